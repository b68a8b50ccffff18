//! DAVx5 on Android: the link that opens its login screen with the server and user name filled
//! in, and that link as a QR code in SVG. DAVx5's LoginActivity takes VIEW intents for the
//! schemes `caldav`, `caldavs`, `carddav`, `carddavs` and `davx5`, reads `caldavs` (and
//! `davx5`) as https and `caldav` as http, and takes the URL's user info as the user name
//! (davx5-ose: AndroidManifest.xml, `LoginActivity.loginInfoFromIntent`). A phone's camera
//! app offers to open such a link; no password is ever put in it (a QR code on a screen is
//! easily photographed).

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use qrcode::QrCode;
use qrcode::render::svg;

use super::Server;

/// RFC 3986 §3.2.1: user info is unreserved characters, sub-delims and ':' (which would start
/// a password here); everything else is percent-encoded, '@' above all.
const USERINFO: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b':')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// `caldavs://alice@host[:port]/path/` (`caldav://` for a server reached over plain http).
pub fn login_url(server: &Server, user: &str) -> String {
    let scheme = if server.https { "caldavs" } else { "caldav" };
    format!("{scheme}://{}@{}{}", utf8_percent_encode(user, USERINFO), server.authority(), server.path)
}

/// `data` as a QR code in inline SVG (one path of dark modules on a white square with the
/// four-module quiet zone), labelled `label` for screen readers. Sized by CSS: the SVG's own
/// width is one unit per module. None only when `data` is too long for any QR version.
pub fn qr_svg(data: &str, label: &str) -> Option<String> {
    let code = QrCode::new(data.as_bytes()).ok()?;
    let image = code.render::<svg::Color<'_>>().module_dimensions(1, 1).quiet_zone(true).build();
    // The XML declaration is for a standalone file; inside HTML it would be text.
    let body = image.split_once("?>").map_or(image.as_str(), |(_, rest)| rest);
    let attrs = format!("<svg class=\"qr\" role=\"img\" aria-label=\"{}\"", escape_attr(label));
    Some(body.replacen("<svg", &attrs, 1))
}

fn escape_attr(s: &str) -> String {
    s.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;").replace('>', "&gt;")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The SVG's dark rectangles (`M{x} {y}h{w}v{h}H{x}V{y}`) back into a bitmap, four pixels
    /// per module, and that bitmap through rqrr's detector and decoder: what a camera would
    /// read, not what the encoder says it wrote.
    fn decode(svg: &str) -> String {
        let view = svg.split("viewBox=\"0 0 ").nth(1).unwrap();
        let size: usize = view.split(' ').next().unwrap().parse().unwrap();
        let d = svg.split(" d=\"").nth(1).unwrap().split('"').next().unwrap();
        let mut dark = vec![false; size * size];
        for rect in d.split('M').filter(|r| !r.is_empty()) {
            let nums: Vec<usize> = rect.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).map(|n| n.parse().unwrap()).collect();
            let (x, y, w, h) = (nums[0], nums[1], nums[2], nums[3]);
            for yy in y..y + h {
                for xx in x..x + w {
                    dark[yy * size + xx] = true;
                }
            }
        }
        const SCALE: usize = 4;
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(size * SCALE, size * SCALE, |x, y| {
            if dark[(y / SCALE) * size + x / SCALE] { 0 } else { 255 }
        });
        let grids = img.detect_grids();
        assert_eq!(grids.len(), 1, "one QR code found");
        grids[0].decode().unwrap().1
    }

    #[test]
    fn the_link_names_the_server_and_the_user_only() {
        let s = Server::parse("https://cal.example.org/dav").unwrap();
        assert_eq!(login_url(&s, "alice"), "caldavs://alice@cal.example.org/dav/");
        let s = Server::parse("http://127.0.0.1:8080/").unwrap();
        assert_eq!(login_url(&s, "bob@example.org"), "caldav://bob%40example.org@127.0.0.1:8080/");
        assert_eq!(login_url(&s, "a+b.c_d-e"), "caldav://a+b.c_d-e@127.0.0.1:8080/");
    }

    #[test]
    fn the_qr_code_reads_back_as_the_link() {
        let s = Server::parse("https://cal.example.org:8443/dav/").unwrap();
        let url = login_url(&s, "carol@example.org");
        let svg = qr_svg(&url, "QR code \"DAVx5\" <login>").unwrap();
        assert!(svg.starts_with("<svg class=\"qr\" role=\"img\" aria-label=\"QR code &quot;DAVx5&quot; &lt;login&gt;\""), "{svg}");
        assert!(!svg.contains("<?xml"), "no XML declaration inside HTML");
        assert_eq!(decode(&svg), "caldavs://carol%40example.org@cal.example.org:8443/dav/");
    }

    #[test]
    fn data_too_long_for_any_version_is_none() {
        assert!(qr_svg(&"x".repeat(8000), "big").is_none());
    }
}
