// Kalends web page: the little behaviour HTML alone cannot give (no library). Copy buttons
// (data-copy), and the import form's progress (data-import): the file is POSTed with a job id
// made here while the progress resource, a database row any node can answer, is polled.
"use strict";

document.addEventListener("click", (e) => {
  const button = e.target.closest("button[data-copy]");
  if (!button || !navigator.clipboard) return;
  navigator.clipboard.writeText(button.dataset.copy).then(() => {
    const status = document.getElementById(button.dataset.status);
    if (status) status.textContent = "Copied.";
  });
});

function jobId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

document.querySelectorAll("form[data-import]").forEach((form) => {
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const job = jobId();
    const data = new FormData(form);
    data.set("job", job);
    const bar = document.getElementById("import-progress");
    const label = document.getElementById("import-status");
    const root = form.dataset.import;
    bar.hidden = false;
    form.querySelector("button[type=submit]").disabled = true;
    // One look at the progress row; true once the import has ended.
    const tick = async () => {
      try {
        const r = await fetch(root + "import/" + job + "/progress", { credentials: "same-origin" });
        if (!r.ok) return false;
        const p = await r.json();
        if (p.total > 0) { bar.max = p.total; bar.value = p.done; }
        label.textContent = p.done + " of " + p.total + " events";
        return p.state !== "running";
      } catch (_) {
        return false;
      }
    };
    let finished = false;
    const polling = (async () => {
      while (!finished && !(await tick())) {
        await new Promise((ok) => setTimeout(ok, 300));
      }
    })();
    let refusal = null;
    try {
      const r = await fetch(form.action, { method: "POST", body: data, credentials: "same-origin" });
      if (!r.ok) {
        // The form's own message when the page says one (422), else the server's text.
        const text = await r.text();
        const html = new DOMParser().parseFromString(text, "text/html");
        const said = html.getElementById("import-error");
        refusal = said ? said.textContent : (text.slice(0, 200) || r.statusText);
      }
    } catch (err) {
      refusal = "The file could not be sent: " + err;
    } finally {
      finished = true;
      await polling;
    }
    if (refusal !== null) {
      bar.hidden = true;
      label.textContent = refusal;
      form.querySelector("button[type=submit]").disabled = false;
      return;
    }
    await tick();
    location.assign(root + "import/" + job);
  });
});
