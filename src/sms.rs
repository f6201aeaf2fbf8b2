//! How many SMS an operator bills for a text: GSM 03.38's 7-bit alphabet when every character
//! is in it (160 to a single message, 153 to each part of a long one; the extension characters
//! take two places), otherwise UCS-2 (70 UTF-16 units, 67 to each part; a character outside
//! the Basic Multilingual Plane, an emoji, takes two).

/// The default alphabet of GSM 03.38: one septet each.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                     ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table: an escape septet and the character, two septets each.
const EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// The encoding a text goes out in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// GSM 03.38, seven bits a character.
    Gsm7,
    /// UCS-2 (UTF-16), sixteen bits a unit.
    Ucs2,
}

impl Encoding {
    /// As written in the timeline and on pages.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Gsm7 => "GSM-7",
            Encoding::Ucs2 => "UCS-2",
        }
    }
}

/// A text's size as an SMS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// The encoding.
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 units (UCS-2).
    pub units: usize,
    /// Messages billed: 1 up to a single message's room, then one per part.
    pub segments: usize,
}

/// The size of `text` as an SMS. An empty text is one message.
pub fn size(text: &str) -> Size {
    let gsm: Option<usize> = text
        .chars()
        .map(|c| {
            if BASIC.contains(c) {
                Some(1)
            } else if EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (encoding, units, single, part) = match gsm {
        Some(n) => (Encoding::Gsm7, n, 160, 153),
        None => (Encoding::Ucs2, text.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(part)
    };
    Size {
        encoding,
        units,
        segments,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_text_is_gsm7_up_to_160_then_153_a_part() {
        let s = size(&"a".repeat(160));
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Gsm7, 160, 1));
        assert_eq!(size(&"a".repeat(161)).segments, 2);
        assert_eq!(size(&"a".repeat(306)).segments, 2);
        assert_eq!(size(&"a".repeat(307)).segments, 3);
        assert_eq!(size("").segments, 1);
    }

    #[test]
    fn extension_characters_take_two_septets() {
        let s = size(&format!("{}€", "a".repeat(158)));
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Gsm7, 160, 1));
        assert_eq!(size(&format!("{}[", "a".repeat(159))).segments, 2);
        assert_eq!(
            size("Café à Zürich, ½ price").encoding,
            Encoding::Ucs2,
            "½ is not GSM"
        );
        assert_eq!(
            size("Ça coûte 5 €").encoding,
            Encoding::Ucs2,
            "û is not GSM"
        );
        assert_eq!(size("Ça va? 5 € {ok}").encoding, Encoding::Gsm7);
    }

    #[test]
    fn one_cyrillic_letter_makes_it_ucs2_at_70_then_67_a_part() {
        let s = size(&"я".repeat(70));
        assert_eq!((s.encoding, s.units, s.segments), (Encoding::Ucs2, 70, 1));
        assert_eq!(size(&"я".repeat(71)).segments, 2);
        assert_eq!(size(&"я".repeat(134)).segments, 2);
        assert_eq!(size(&"я".repeat(135)).segments, 3);
        assert_eq!(size(&format!("{}я", "a".repeat(100))).segments, 2);
    }

    #[test]
    fn an_emoji_takes_two_units() {
        let s = size(&format!("{}🙂", "я".repeat(68)));
        assert_eq!((s.units, s.segments), (70, 1));
        assert_eq!(size(&format!("{}🙂", "я".repeat(69))).segments, 2);
    }
}
