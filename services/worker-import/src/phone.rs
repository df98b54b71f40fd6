//! Phone numbers to E.164: parsed by the `phonenumber` crate (libphonenumber's rules and
//! metadata), then checked for validity with libphonenumber's rules over the same metadata, but
//! with regular expressions of our own.
//!
//! Why not `phonenumber::is_valid`: the crate keeps every pattern in one LRU cache behind one
//! mutex, hashes the pattern's text (SipHash) twice per lookup, and holds the mutex for the
//! whole match. A valid number takes up to twelve matches, so an import's checking threads took
//! turns on that mutex, and the lookups cost more than the matches (a third of the import
//! worker's CPU time, by `perf`). [`Phones`] compiles each calling code's patterns once per
//! import, and each checking thread matches on its own clones ([`PhoneChecker`]).
//!
//! The rules are the crate's `validator::is_valid_with` (region by calling code, leading digits
//! for codes shared by several regions, then the general pattern and at least one number type);
//! the tests check both agree on examples of every type of many regions and their mutations.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use phonenumber::PhoneNumber;
use phonenumber::metadata::{DATABASE, Descriptor, Descriptors, Metadata};
use regex::Regex;

/// What one import's checking threads share: the default region and the patterns compiled
/// so far, by calling code.
pub struct Phones {
    region: phonenumber::country::Id,
    compiled: Mutex<HashMap<u16, Arc<CodeRules>>>,
}

impl Phones {
    /// Numbers without a country code are read as `region`'s.
    pub fn new(region: phonenumber::country::Id) -> Self {
        Self {
            region,
            compiled: Mutex::default(),
        }
    }

    /// A checker for one thread.
    pub fn checker(&self) -> PhoneChecker<'_> {
        PhoneChecker {
            phones: self,
            rules: HashMap::new(),
        }
    }

    fn rules(&self, code: u16) -> Arc<CodeRules> {
        let mut compiled = self.compiled.lock().expect("phone patterns lock");
        Arc::clone(
            compiled
                .entry(code)
                .or_insert_with(|| Arc::new(CodeRules::compile(code))),
        )
    }
}

/// One thread's checker: its own clones of the patterns (a regex's match cache is fastest on
/// the thread that owns the clone).
pub struct PhoneChecker<'p> {
    phones: &'p Phones,
    rules: HashMap<u16, CodeRules>,
}

impl PhoneChecker<'_> {
    /// `raw` as E.164 digits (no `+`), or why it is not a valid phone number.
    pub fn normalise(&mut self, raw: &str) -> Result<String, String> {
        let region = self.phones.region;
        let number = phonenumber::parse(Some(region), raw.trim())
            .map_err(|e| format!("not a phone number ({e})"))?;
        if !self.is_valid(&number) {
            return Err(format!(
                "not a valid phone number for {}",
                region_of(&number, region)
            ));
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Ok(e164.trim_start_matches('+').to_owned())
    }

    /// As `phonenumber::is_valid`.
    pub fn is_valid(&mut self, number: &PhoneNumber) -> bool {
        let code = number.code().value();
        let national = number.national().to_string();
        let phones = self.phones;
        self.rules
            .entry(code)
            .or_insert_with(|| phones.rules(code).as_ref().clone())
            .is_valid(&national)
    }
}

fn region_of(number: &PhoneNumber, default: phonenumber::country::Id) -> String {
    number
        .country()
        .id()
        .map_or_else(|| format!("{default:?}"), |id| format!("{id:?}"))
}

/// The patterns of the regions that share one calling code, in the metadata's order (the main
/// region first).
#[derive(Clone)]
struct CodeRules {
    regions: Vec<RegionRules>,
}

#[derive(Clone)]
struct RegionRules {
    /// Whether the crate can name the region (`source_for` gives up on a region it cannot).
    named: bool,
    /// For codes shared by several regions: the region's numbers start with these digits.
    leading_digits: Option<Regex>,
    general: Pattern,
    /// The region's [`number_types`], those it has.
    types: Vec<Pattern>,
}

#[derive(Clone)]
struct Pattern {
    lengths: Vec<u16>,
    regex: Regex,
}

/// A region's number types in the order `validator::number_type` tries them (premium rate,
/// toll free, shared cost, VoIP, personal, pager, UAN, voicemail, fixed line, mobile).
fn number_types(d: &Descriptors) -> [Option<&Descriptor>; 10] {
    [
        d.premium_rate(),
        d.toll_free(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
        d.fixed_line(),
        d.mobile(),
    ]
}

/// As the crate compiles its patterns (`Database::from`).
fn compile(source: &str) -> Regex {
    regex::RegexBuilder::new(source)
        .ignore_whitespace(true)
        .build()
        .expect("the crate's metadata patterns compile")
}

/// A match starting at the first digit, as the crate's `find(..).start() == 0`.
fn starts(regex: &Regex, national: &str) -> bool {
    regex.find(national).is_some_and(|m| m.start() == 0)
}

impl Pattern {
    fn new(descriptor: &Descriptor) -> Self {
        Self {
            lengths: descriptor.possible_length().to_vec(),
            regex: compile(descriptor.national_number().as_str()),
        }
    }

    /// As `Descriptor::is_match`.
    fn is_match(&self, national: &str) -> bool {
        (self.lengths.is_empty() || self.lengths.contains(&(national.len() as u16)))
            && starts(&self.regex, national)
    }
}

impl CodeRules {
    fn compile(code: u16) -> Self {
        let regions = DATABASE
            .by_code(&code)
            .unwrap_or_default()
            .into_iter()
            .map(RegionRules::new)
            .collect();
        Self { regions }
    }

    /// As `validator::is_valid_with`: the region by `source_for`, then a number type.
    fn is_valid(&self, national: &str) -> bool {
        match self.regions.as_slice() {
            [] => false,
            [only] => only.named && only.has_type(national),
            several => {
                for region in several {
                    match &region.leading_digits {
                        Some(leading) if starts(leading, national) => {
                            return region.has_type(national);
                        }
                        Some(_) => {}
                        None if region.has_type(national) => return true,
                        None => {}
                    }
                }
                false
            }
        }
    }
}

impl RegionRules {
    fn new(meta: &Metadata) -> Self {
        let d = meta.descriptors();
        Self {
            named: meta.id() == "001" || meta.id().parse::<phonenumber::country::Id>().is_ok(),
            leading_digits: meta.leading_digits().map(|l| compile(l.as_str())),
            general: Pattern::new(d.general()),
            types: number_types(d)
                .into_iter()
                .flatten()
                .map(Pattern::new)
                .collect(),
        }
    }

    /// As `validator::number_type(..) != Type::Unknown`.
    fn has_type(&self, national: &str) -> bool {
        self.general.is_match(national) && self.types.iter().any(|t| t.is_match(national))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_normalised_with_the_default_region() {
        let phones = Phones::new(phonenumber::country::Id::BR);
        let mut check = phones.checker();
        assert_eq!(check.normalise("(11) 99999-0001").unwrap(), "5511999990001");
        assert_eq!(
            check.normalise("+55 11 99999-0001").unwrap(),
            "5511999990001"
        );
        assert_eq!(check.normalise("+1 415 555 2671").unwrap(), "14155552671");
        assert!(check.normalise("12").is_err());
        assert!(check.normalise("not a phone").is_err());
    }

    /// Our validity is the crate's, on every type's example number of regions chosen for their
    /// rules (calling codes shared by several regions: +1, +7, +44, +61, +262, +590; national
    /// numbers with a leading zero: IT; non-geographic codes: +800, +882, +883, +979), and on
    /// each example changed one digit at a time, cut short and made longer.
    #[test]
    fn validity_agrees_with_the_phonenumber_crate() {
        let regions = [
            "BR", "US", "CA", "AG", "PR", "RU", "KZ", "GB", "GG", "JE", "IM", "AU", "CX", "CC",
            "RE", "YT", "GP", "BL", "MF", "IT", "VA", "DE", "FR", "IN", "AR", "MX", "CN", "SG",
            "NG", "ZA", "JP",
        ];
        let metas: Vec<&Metadata> = regions
            .iter()
            .map(|id| DATABASE.by_id(*id).expect("region in the metadata"))
            .chain(
                [800u16, 882, 883, 979]
                    .iter()
                    .flat_map(|code| DATABASE.by_code(code).unwrap_or_default()),
            )
            .collect();
        let phones = Phones::new(phonenumber::country::Id::BR);
        let mut check = phones.checker();
        let (mut compared, mut valid) = (0, 0);
        for meta in metas {
            let d = meta.descriptors();
            let examples = std::iter::once(Some(d.general()))
                .chain(number_types(d))
                .flatten()
                .filter_map(Descriptor::example);
            for example in examples {
                let mut variants = vec![
                    example.to_owned(),
                    example[..example.len() - 1].to_owned(),
                    format!("{example}7"),
                ];
                for (i, digit) in example.char_indices() {
                    let d = digit.to_digit(10).expect("a digit");
                    for changed in [(d + 1) % 10, (d + 5) % 10] {
                        let mut variant = example.to_owned();
                        variant.replace_range(i..=i, &changed.to_string());
                        variants.push(variant);
                    }
                }
                for national in variants {
                    let text = format!("+{}{national}", meta.country_code());
                    let Ok(number) = phonenumber::parse(None, &text) else {
                        continue;
                    };
                    let expected = phonenumber::is_valid(&number);
                    assert_eq!(check.is_valid(&number), expected, "{text} ({})", meta.id());
                    compared += 1;
                    valid += usize::from(expected);
                }
            }
        }
        // Both answers occur often, so agreement means something.
        assert!(compared > 2_000, "{compared} compared");
        assert!(
            valid > 300 && compared - valid > 300,
            "{valid} of {compared} valid"
        );
    }
}
