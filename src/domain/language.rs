//! Languages admins write (`en_US`, `de`, `German`) mapped to BCP 47 tags.
//!
//! The table is the single list of languages autoprov can put on a phone; the
//! vendor tables map these tags to each vendor's own names at render time.

/// One supported language: its canonical BCP 47 tag and the English name.
#[derive(Debug)]
pub struct LanguageInfo {
    pub tag: &'static str,
    pub name: &'static str,
}

/// Supported languages. The first entry of each primary subtag is the default
/// region for a bare code (`de` → `de-DE`).
pub static LANGUAGES: &[LanguageInfo] = &[
    LanguageInfo {
        tag: "en-US",
        name: "English",
    },
    LanguageInfo {
        tag: "en-GB",
        name: "English (UK)",
    },
    LanguageInfo {
        tag: "de-DE",
        name: "German",
    },
    LanguageInfo {
        tag: "de-AT",
        name: "German (Austria)",
    },
    LanguageInfo {
        tag: "de-CH",
        name: "German (Switzerland)",
    },
    LanguageInfo {
        tag: "fr-FR",
        name: "French",
    },
    LanguageInfo {
        tag: "fr-CA",
        name: "French (Canada)",
    },
    LanguageInfo {
        tag: "es-ES",
        name: "Spanish",
    },
    LanguageInfo {
        tag: "it-IT",
        name: "Italian",
    },
    LanguageInfo {
        tag: "nl-NL",
        name: "Dutch",
    },
    LanguageInfo {
        tag: "pt-PT",
        name: "Portuguese",
    },
    LanguageInfo {
        tag: "pt-BR",
        name: "Portuguese (Brazil)",
    },
    LanguageInfo {
        tag: "pl-PL",
        name: "Polish",
    },
    LanguageInfo {
        tag: "cs-CZ",
        name: "Czech",
    },
    LanguageInfo {
        tag: "sk-SK",
        name: "Slovak",
    },
    LanguageInfo {
        tag: "hu-HU",
        name: "Hungarian",
    },
    LanguageInfo {
        tag: "sv-SE",
        name: "Swedish",
    },
    LanguageInfo {
        tag: "da-DK",
        name: "Danish",
    },
    LanguageInfo {
        tag: "nb-NO",
        name: "Norwegian",
    },
    LanguageInfo {
        tag: "fi-FI",
        name: "Finnish",
    },
    LanguageInfo {
        tag: "ru-RU",
        name: "Russian",
    },
    LanguageInfo {
        tag: "uk-UA",
        name: "Ukrainian",
    },
    LanguageInfo {
        tag: "tr-TR",
        name: "Turkish",
    },
    LanguageInfo {
        tag: "el-GR",
        name: "Greek",
    },
    LanguageInfo {
        tag: "he-IL",
        name: "Hebrew",
    },
    LanguageInfo {
        tag: "ar-SA",
        name: "Arabic",
    },
    LanguageInfo {
        tag: "ja-JP",
        name: "Japanese",
    },
    LanguageInfo {
        tag: "zh-CN",
        name: "Chinese",
    },
    LanguageInfo {
        tag: "ko-KR",
        name: "Korean",
    },
];

/// Extra English/native names admins type.
static NAME_ALIASES: &[(&str, &str)] = &[
    ("deutsch", "de-DE"),
    ("francais", "fr-FR"),
    ("français", "fr-FR"),
    ("espanol", "es-ES"),
    ("español", "es-ES"),
    ("italiano", "it-IT"),
    ("nederlands", "nl-NL"),
    ("polski", "pl-PL"),
    ("norwegian bokmal", "nb-NO"),
    ("no", "nb-NO"),
    ("us", "en-US"),
    ("uk", "en-GB"),
];

/// Maps what an admin wrote to a canonical tag, or `None` if unsupported.
pub fn normalise(input: &str) -> Option<&'static str> {
    let s = input.trim().replace('_', "-");
    let lower = s.to_ascii_lowercase();
    if let Some(l) = LANGUAGES
        .iter()
        .find(|l| l.tag.eq_ignore_ascii_case(&lower))
    {
        return Some(l.tag);
    }
    if let Some(l) = LANGUAGES
        .iter()
        .find(|l| l.name.eq_ignore_ascii_case(&lower))
    {
        return Some(l.tag);
    }
    if let Some((_, tag)) = NAME_ALIASES.iter().find(|(n, _)| *n == lower) {
        return Some(tag);
    }
    // A bare primary subtag (`de`, `RU`) takes the first region listed for it.
    if lower.len() == 2 && lower.bytes().all(|b| b.is_ascii_alphabetic()) {
        return LANGUAGES
            .iter()
            .find(|l| l.tag[..2] == lower[..])
            .map(|l| l.tag);
    }
    None
}

/// The accepted tags, for error messages.
pub fn accepted() -> String {
    LANGUAGES
        .iter()
        .map(|l| l.tag)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn spellings() {
        assert_eq!(normalise("en_US"), Some("en-US"));
        assert_eq!(normalise("en-us"), Some("en-US"));
        assert_eq!(normalise("de"), Some("de-DE"));
        assert_eq!(normalise("German"), Some("de-DE"));
        assert_eq!(normalise("RU"), Some("ru-RU"));
        assert_eq!(normalise("fr_CA"), Some("fr-CA"));
        assert_eq!(normalise("Klingon"), None);
        assert_eq!(normalise("xx"), None);
    }
}
