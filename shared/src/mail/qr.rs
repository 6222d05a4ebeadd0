//! The receipt's QR code as a PNG, drawn from `qrcode`'s module matrix: black modules on white,
//! with the four-module quiet zone scanners need.

use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module: about 225 px for a receipt's QR text (version 5, 37 modules), shown at its
/// own size — large enough for a phone camera pointed at a screen, small enough for any mail
/// client's column.
const MODULE_PX: usize = 5;
const QUIET_ZONE_MODULES: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum QrImageError {
    #[error("the text does not fit in a QR code: {0}")]
    Code(#[from] qrcode::types::QrError),
    #[error("the QR image could not be encoded: {0}")]
    Png(#[from] png::EncodingError),
}

/// A drawn QR code: the PNG bytes and its side in pixels.
pub struct QrImage {
    pub png: Vec<u8>,
    pub side_px: u32,
}

pub fn qr_png(text: &str) -> Result<QrImage, QrImageError> {
    // Level M: the FNS apps read it reliably, and the code stays small for ~80 characters.
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let modules = code.width();
    let colors = code.to_colors();
    let side_modules = modules + 2 * QUIET_ZONE_MODULES;
    let side = side_modules * MODULE_PX;

    let mut pixels = vec![u8::MAX; side * side];
    for (index, color) in colors.iter().enumerate() {
        if *color != Color::Dark {
            continue;
        }
        let (x, y) = (index % modules + QUIET_ZONE_MODULES, index / modules + QUIET_ZONE_MODULES);
        for row in y * MODULE_PX..(y + 1) * MODULE_PX {
            pixels[row * side + x * MODULE_PX..row * side + (x + 1) * MODULE_PX].fill(0);
        }
    }

    // A QR side is at most 177 + 8 modules: the pixel side always fits in u32.
    let side_px = u32::try_from(side).expect("a QR image side fits in u32");
    let mut png_bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut png_bytes, side_px, side_px);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(&pixels)?;
    writer.finish()?;
    Ok(QrImage { png: png_bytes, side_px })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "t=20190418T211655&s=3943.26&fn=9282000100072197&i=64318&fp=2918241905&n=1";

    fn decode(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let mut reader = png::Decoder::new(png_bytes).read_info().expect("a valid PNG header");
        let mut buf = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut buf).expect("valid PNG image data");
        buf.truncate(info.buffer_size());
        (info, buf)
    }

    #[test]
    fn the_png_decodes_to_a_square_of_sensible_size() {
        let image = qr_png(TEXT).unwrap();
        assert_eq!(&image.png[..8], b"\x89PNG\r\n\x1a\n");
        let (info, _) = decode(&image.png);
        assert_eq!(info.width, info.height);
        assert_eq!(info.width, image.side_px);
        assert!((150..=400).contains(&info.width), "{} px", info.width);
        assert!(image.png.len() < 10_000, "{} bytes", image.png.len());
    }

    #[test]
    fn every_module_is_drawn_where_the_code_puts_it_inside_a_white_quiet_zone() {
        let image = qr_png(TEXT).unwrap();
        let (info, pixels) = decode(&image.png);
        let side = info.width as usize;
        let code = QrCode::with_error_correction_level(TEXT, EcLevel::M).unwrap();
        let modules = code.width();
        assert_eq!(side, (modules + 2 * QUIET_ZONE_MODULES) * MODULE_PX);

        let pixel = |x: usize, y: usize| pixels[y * side + x];
        let quiet = QUIET_ZONE_MODULES * MODULE_PX;
        for i in 0..side {
            for j in 0..quiet {
                assert_eq!(pixel(i, j), 255, "top margin at {i},{j}");
                assert_eq!(pixel(j, i), 255, "left margin at {j},{i}");
                assert_eq!(pixel(i, side - 1 - j), 255, "bottom margin");
                assert_eq!(pixel(side - 1 - j, i), 255, "right margin");
            }
        }
        for (index, color) in code.to_colors().iter().enumerate() {
            let (mx, my) = (index % modules, index / modules);
            let centre = |m: usize| quiet + m * MODULE_PX + MODULE_PX / 2;
            let expected = if *color == Color::Dark { 0 } else { 255 };
            assert_eq!(pixel(centre(mx), centre(my)), expected, "module {mx},{my}");
        }
        // The finder pattern's top-left corner is dark: the image is not inverted.
        assert_eq!(pixel(quiet, quiet), 0);
    }

    #[test]
    fn text_too_long_for_any_qr_code_is_an_error() {
        assert!(matches!(qr_png(&"9".repeat(8000)), Err(QrImageError::Code(_))));
    }
}
