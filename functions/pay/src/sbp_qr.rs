//! The QR code of a СБП link, drawn here as SVG for a computer's screen, where the customer scans
//! it with their phone. Drawn by us, never by an outside service: whoever holds the link can pay.

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// Side of the drawn code, quiet zone included: readable from a screen at arm's length.
const MIN_SIDE_PX: u32 = 256;

/// The SVG of `link`'s QR code; none for a text too long for any QR code.
pub fn qr_svg(link: &str) -> Option<String> {
    // Level M: what payment QR codes conventionally use; a ~100-character link stays small.
    let code = QrCode::with_error_correction_level(link.as_bytes(), EcLevel::M).ok()?;
    Some(
        code.render::<svg::Color>()
            .min_dimensions(MIN_SIDE_PX, MIN_SIDE_PX)
            .quiet_zone(true)
            .dark_color(svg::Color("#000"))
            .light_color(svg::Color("#fff"))
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_becomes_a_square_svg_of_at_least_the_readable_side() {
        let svg = qr_svg("https://qr.nspk.ru/AS1000670LSS7DN18SJQDNP4B05KLJL2?type=02&bank=100000000004").unwrap();
        assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
        let side = |attr: &str| -> u32 {
            let start = svg.find(&format!("{attr}=\"")).unwrap() + attr.len() + 2;
            svg[start..].split('"').next().unwrap().parse().unwrap()
        };
        assert_eq!(side("width"), side("height"));
        assert!(side("width") >= MIN_SIDE_PX);
        // The code is the link's, not a fixed picture: another link draws another code.
        assert_ne!(qr_svg("https://qr.nspk.ru/B").unwrap(), svg);
    }

    #[test]
    fn a_text_no_qr_code_holds_is_refused() {
        assert!(qr_svg(&"x".repeat(5000)).is_none());
    }
}
