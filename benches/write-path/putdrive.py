# Drives N creating PUTs (If-None-Match: *) at a Kalends server over C keep-alive connections:
# one-hour UTC events, every third with a VALARM. usage: putdrive.py HOST PORT N C PREFIX [PATH]
import base64, http.client, sys, threading
host, port, n, c, prefix = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
path = sys.argv[6] if len(sys.argv) > 6 else "/calendars/alice/calendar/"
auth = "Basic " + base64.b64encode(b"alice:alice-pw").decode()
def event(i):
    alarm = "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:r\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n" if i % 3 == 0 else ""
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//drive//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{prefix}-{i}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:2027{1 + i % 9:02}{1 + i % 28:02}T{i % 24:02}0000Z\r\n"
            f"DURATION:PT1H\r\nSUMMARY:Meeting {i} with a longer summary line\r\n{alarm}END:VEVENT\r\nEND:VCALENDAR\r\n").encode()
bad = []
def worker(k):
    conn = http.client.HTTPConnection(host, port)
    for i in range(k, n, c):
        conn.request("PUT", f"{path}{prefix}-{i}.ics", event(i), {"Authorization": auth, "Content-Type": "text/calendar", "If-None-Match": "*"})
        r = conn.getresponse(); r.read()
        if r.status != 201: bad.append(r.status)
ts = [threading.Thread(target=worker, args=(k,)) for k in range(c)]
[t.start() for t in ts]; [t.join() for t in ts]
print("bad", len(bad), bad[:5])
