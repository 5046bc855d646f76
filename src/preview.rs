//! The preview maker: a small picture of an image, or the first lines of a text file, made
//! from a stored file's bytes. What the file is comes from its bytes, never its name, so a
//! misnamed file gets the preview its content allows and a disguised one gets none.
//!
//! Hostile files are expected: every limit below holds before any pixel is decoded, so a
//! "decompression bomb" (a 100,000 × 100,000 PNG of a few KB) is turned down by its header;
//! truncated or malformed files give no preview. Time is bounded because the work is: at most
//! [`MAX_IMAGE_FILE_BYTES`] are read and at most [`MAX_PIXELS`] decoded, each decoder doing
//! work proportional to those. A panic in a decoder is caught and also gives no preview.
//!
//! Thumbnails are encoded as PNG: lossless (a screenshot's text stays sharp), it keeps
//! transparency (PNG, GIF and WebP may have it), and every client that shows images reads it.
//! A 256-pixel photo thumbnail is some tens of KB, against a few in JPEG: on a LAN that is
//! nothing, and it is made once per file.
//!
//! PDF pages and video frames are not previewed: no well-kept pure-Rust crate renders either
//! cheaply (PDF renderers bind C or C++ libraries such as pdfium or MuPDF; video needs a codec
//! stack such as FFmpeg), and the host stays free of C dependencies.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::panic::{AssertUnwindSafe, catch_unwind};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

use crate::protocol::PreviewKind;

/// The longest side of a thumbnail, in pixels.
pub const THUMBNAIL_SIDE: u32 = 256;
/// Most lines of a text preview.
pub const MAX_TEXT_LINES: usize = 40;
/// Most bytes of a text preview.
pub const MAX_TEXT_BYTES: usize = 4096;
/// Largest image file read for a thumbnail (a 48-megapixel photo is some 20 MB as JPEG).
pub const MAX_IMAGE_FILE_BYTES: u64 = 64 * 1024 * 1024;
/// Most pixels decoded for a thumbnail: 48 megapixels (8000 × 6000).
pub const MAX_PIXELS: u64 = 48_000_000;
/// Longest side of an image decoded for a thumbnail.
pub const MAX_IMAGE_SIDE: u32 = 24_000;
/// Most memory a decoder may ask for (48 megapixels of 8-bit RGB are 144 MB).
pub const MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;

/// A finished preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// What its bytes are.
    pub kind: PreviewKind,
    /// A PNG file, or UTF-8 text.
    pub bytes: Vec<u8>,
}

/// Makes the preview of a file whose bytes `content` reads (from its start): a thumbnail of a
/// PNG, JPEG, GIF, WebP or BMP image (EXIF orientation applied), or the first lines of a text
/// file. `None` when the file is neither, or is damaged, too large or hostile.
pub fn make_preview<R: Read + Seek>(content: R) -> Option<Preview> {
    catch_unwind(AssertUnwindSafe(|| make_unguarded(content)))
        .ok()
        .flatten()
}

fn make_unguarded<R: Read + Seek>(content: R) -> Option<Preview> {
    let mut content = BufReader::new(content);
    let head = content.fill_buf().ok()?.to_vec();
    if head.is_empty() {
        return None;
    }
    let picture = matches!(
        image::guess_format(&head),
        Ok(ImageFormat::Png
            | ImageFormat::Jpeg
            | ImageFormat::Gif
            | ImageFormat::WebP
            | ImageFormat::Bmp)
    );
    if picture {
        if let Some(bytes) = thumbnail(&mut content) {
            return Some(Preview {
                kind: PreviewKind::Png,
                bytes,
            });
        }
        // Not a picture after all (a text that starts with "BM", say), or a damaged one, whose
        // bytes the text check then turns down.
        content.rewind().ok()?;
    }
    text_preview(content).map(|text| Preview {
        kind: PreviewKind::Text,
        bytes: text.into_bytes(),
    })
}

/// The limits every image decoder gets.
fn decode_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_BYTES);
    limits
}

/// A PNG thumbnail of the image `content` holds, if it is one of the formats read here and
/// within the limits.
fn thumbnail<R: BufRead + Seek>(mut content: R) -> Option<Vec<u8>> {
    let length = content.seek(SeekFrom::End(0)).ok()?;
    if length > MAX_IMAGE_FILE_BYTES {
        return None;
    }
    content.rewind().ok()?;
    let mut reader = ImageReader::new(content).with_guessed_format().ok()?;
    if reader.format() == Some(ImageFormat::Jpeg) {
        // Its decoder fills what is missing with grey: a cut-off JPEG is refused here instead.
        let mut content = reader.into_inner();
        if !jpeg_is_whole(&mut content) {
            return None;
        }
        content.rewind().ok()?;
        reader = ImageReader::with_format(content, ImageFormat::Jpeg);
    }
    reader.limits(decode_limits());
    let mut decoder = reader.into_decoder().ok()?;
    let (width, height) = decoder.dimensions();
    if width == 0 || height == 0 || u64::from(width) * u64::from(height) > MAX_PIXELS {
        return None;
    }
    // A damaged EXIF block is no reason to show nothing: the picture as stored, then.
    let orientation = decoder.orientation().ok();
    let mut picture = DynamicImage::from_decoder(decoder).ok()?;
    if let Some(orientation) = orientation {
        picture.apply_orientation(orientation);
    }
    let (width, height) = thumbnail_size(picture.width(), picture.height());
    if (width, height) != (picture.width(), picture.height()) {
        picture = picture.thumbnail_exact(width, height);
    }
    let picture = if picture.color().has_alpha() {
        DynamicImage::ImageRgba8(picture.into_rgba8())
    } else {
        DynamicImage::ImageRgb8(picture.into_rgb8())
    };
    let mut png = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut png, ImageFormat::Png).ok()?;
    Some(png.into_inner())
}

/// Whether a JPEG ends its last scan: an end-of-image marker (`FF D9`) follows the last
/// start-of-scan marker (`FF DA`). Inside a scan an `FF` byte is always followed by `00` or a
/// restart marker, so neither marker appears there by chance; an EXIF thumbnail's markers come
/// before the picture's own scans.
fn jpeg_is_whole<R: Read>(content: &mut R) -> bool {
    let (mut last_scan, mut last_end) = (None, None);
    let mut previous = 0u8;
    let mut at = 0u64;
    let mut buffer = [0u8; 64 * 1024];
    loop {
        let read = match content.read(&mut buffer) {
            Ok(0) => break,
            Ok(read) => read,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return false,
        };
        for &byte in &buffer[..read] {
            match (previous, byte) {
                (0xFF, 0xDA) => last_scan = Some(at),
                (0xFF, 0xD9) => last_end = Some(at),
                _ => {}
            }
            previous = byte;
            at += 1;
        }
    }
    matches!((last_scan, last_end), (Some(scan), Some(end)) if end > scan)
}

/// The width and height of the picture `bytes` holds (a preview's PNG, say), read from its
/// header; `None` if it is not a picture of a format read here.
pub fn picture_size(bytes: &[u8]) -> Option<(u32, u32)> {
    ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?
        .into_dimensions()
        .ok()
}

/// The size of the thumbnail of a `width` × `height` picture: its longest side
/// [`THUMBNAIL_SIDE`], the other in proportion (at least 1); a smaller picture keeps its size.
pub fn thumbnail_size(width: u32, height: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= THUMBNAIL_SIDE {
        return (width, height);
    }
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(THUMBNAIL_SIDE) + u64::from(longest) / 2)
            / u64::from(longest);
        u32::try_from(scaled).unwrap_or(THUMBNAIL_SIDE).max(1)
    };
    (scale(width), scale(height))
}

/// The first lines of `content` if it reads as text: UTF-8 (a character cut by the byte limit
/// aside) without NUL or control characters other than tab, line feed, carriage return and
/// form feed. At most [`MAX_TEXT_LINES`] lines and [`MAX_TEXT_BYTES`] bytes, `\r\n` read as a
/// line end; `None` for anything else, or nothing but white space.
fn text_preview<R: Read>(content: R) -> Option<String> {
    let mut head = Vec::with_capacity(MAX_TEXT_BYTES);
    content
        .take(MAX_TEXT_BYTES as u64)
        .read_to_end(&mut head)
        .ok()?;
    if head.starts_with(b"%PDF-") || head.starts_with(b"%!PS") {
        // Documents whose first page would be the preview, not their source.
        return None;
    }
    let text = match std::str::from_utf8(&head) {
        Ok(text) => text,
        // A character cut by the limit is dropped; anything else is not UTF-8.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&head[..error.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\x0c'))
    {
        return None;
    }
    let lines: Vec<&str> = text
        .split('\n')
        .take(MAX_TEXT_LINES)
        .map(|line| line.strip_suffix('\r').unwrap_or(line))
        .collect();
    let preview = lines.join("\n");
    (!preview.trim().is_empty()).then_some(preview)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn encoded(picture: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut bytes = Cursor::new(Vec::new());
        assert!(picture.write_to(&mut bytes, format).is_ok());
        bytes.into_inner()
    }

    fn png_size(bytes: &[u8]) -> Option<(u32, u32)> {
        image::load_from_memory_with_format(bytes, ImageFormat::Png)
            .ok()
            .map(|picture| (picture.width(), picture.height()))
            .filter(|size| picture_size(bytes) == Some(*size))
    }

    #[test]
    fn thumbnails_keep_the_proportions_and_never_grow() {
        assert_eq!(thumbnail_size(1000, 500), (256, 128));
        assert_eq!(thumbnail_size(500, 1000), (128, 256));
        assert_eq!(thumbnail_size(100_000, 1), (256, 1));
        assert_eq!(thumbnail_size(200, 100), (200, 100));
        assert_eq!(thumbnail_size(257, 257), (256, 256));
    }

    #[test]
    fn each_image_format_gives_a_png_thumbnail() {
        let picture = DynamicImage::ImageRgb8(image::RgbImage::from_fn(600, 300, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        }));
        for format in [
            ImageFormat::Png,
            ImageFormat::Jpeg,
            ImageFormat::Gif,
            ImageFormat::WebP,
            ImageFormat::Bmp,
        ] {
            let made = make_preview(Cursor::new(encoded(&picture, format)));
            let made = made.unwrap_or_else(|| panic!("no preview of {format:?}"));
            assert_eq!(made.kind, PreviewKind::Png);
            assert_eq!(png_size(&made.bytes), Some((256, 128)), "{format:?}");
        }
    }

    #[test]
    fn text_gives_its_first_lines() {
        let text: String = (1..=100).map(|n| format!("line {n}\r\n")).collect();
        let made = make_preview(Cursor::new(text.into_bytes()));
        let made = made.unwrap_or_else(|| panic!("no preview"));
        assert_eq!(made.kind, PreviewKind::Text);
        let shown = String::from_utf8(made.bytes).unwrap_or_default();
        assert_eq!(shown.lines().count(), MAX_TEXT_LINES);
        assert!(shown.starts_with("line 1\nline 2\n"));
        assert!(shown.ends_with("line 40"));
    }

    #[test]
    fn text_that_starts_like_a_picture_is_still_text() {
        for text in [
            "BMW service notes\nOil: 5W-30\n",
            "P3 is the plan\n",
            "GIF8 or not\n",
        ] {
            let made = make_preview(Cursor::new(text.as_bytes().to_vec()));
            assert_eq!(
                made.map(|made| (made.kind, made.bytes)),
                Some((PreviewKind::Text, text.as_bytes().to_vec())),
                "{text}"
            );
        }
    }

    #[test]
    fn long_text_is_cut_at_a_character() {
        let text = "é".repeat(MAX_TEXT_BYTES);
        let made = make_preview(Cursor::new(text.into_bytes()));
        let made = made.unwrap_or_else(|| panic!("no preview"));
        assert!(made.bytes.len() <= MAX_TEXT_BYTES);
        assert!(String::from_utf8(made.bytes).is_ok());
    }

    #[test]
    fn binary_and_empty_files_have_no_preview() {
        for bytes in [
            Vec::new(),
            b"   \n\n".to_vec(),
            vec![0u8, 1, 2, 3, 255, 254],
            b"%PDF-1.7\n1 0 obj\n".to_vec(),
            b"ls\x1b[2Jclear".to_vec(),
        ] {
            assert_eq!(make_preview(Cursor::new(bytes.clone())), None, "{bytes:?}");
        }
    }

    /// CRC-32 as PNG chunks carry it.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A PNG that claims `width` × `height` pixels, with a few bytes of image data.
    fn claimed_png(width: u32, height: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            png.extend_from_slice(&(data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend_from_slice(data);
            png.extend_from_slice(&body);
            png.extend_from_slice(&crc32(&body).to_be_bytes());
        };
        let mut header = Vec::new();
        header.extend_from_slice(&width.to_be_bytes());
        header.extend_from_slice(&height.to_be_bytes());
        header.extend_from_slice(&[8, 2, 0, 0, 0]);
        chunk(b"IHDR", &header);
        chunk(
            b"IDAT",
            &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
        );
        chunk(b"IEND", &[]);
        png
    }

    #[test]
    fn bombs_and_damaged_images_have_no_preview_at_once() {
        let started = std::time::Instant::now();
        for bytes in [
            claimed_png(100_000, 100_000),
            claimed_png(20_000, 20_000),
            claimed_png(300, 200),
        ] {
            assert_eq!(make_preview(Cursor::new(bytes)), None);
        }
        let picture = DynamicImage::ImageRgb8(image::RgbImage::new(400, 400));
        let whole = encoded(&picture, ImageFormat::Png);
        assert!(make_preview(Cursor::new(whole.clone())).is_some());
        for cut in [whole.len() / 2, 40, 9] {
            assert_eq!(make_preview(Cursor::new(whole[..cut].to_vec())), None);
        }
        let photo = DynamicImage::ImageRgb8(image::RgbImage::from_fn(300, 200, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 7])
        }));
        let jpeg = encoded(&photo, ImageFormat::Jpeg);
        assert!(make_preview(Cursor::new(jpeg.clone())).is_some());
        for cut in [jpeg.len() - 2, jpeg.len() / 2] {
            assert_eq!(make_preview(Cursor::new(jpeg[..cut].to_vec())), None);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    /// EXIF (a TIFF structure) that says only: orientation `value`.
    fn exif_orientation(value: u16) -> Vec<u8> {
        let mut exif = b"MM\0\x2a\0\0\0\x08\0\x01".to_vec();
        exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
        exif.extend_from_slice(&value.to_be_bytes());
        exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        exif
    }

    #[test]
    fn exif_orientation_is_applied() {
        use image::ImageEncoder;
        let picture = image::RgbImage::new(1000, 500);
        let mut jpeg = Vec::new();
        let mut encoder = image::codecs::jpeg::JpegEncoder::new(&mut jpeg);
        assert!(encoder.set_exif_metadata(exif_orientation(6)).is_ok());
        assert!(
            encoder
                .write_image(&picture, 1000, 500, image::ExtendedColorType::Rgb8)
                .is_ok()
        );
        let made = make_preview(Cursor::new(jpeg)).unwrap_or_else(|| panic!("no preview"));
        assert_eq!(png_size(&made.bytes), Some((128, 256)));
    }
}
