//! Pacing of one WhatsApp number beyond the delays between messages: a daily cap, a warm-up
//! ramp for a new number, send windows in the tenant's time zone, typing presence, and the
//! failure breaker that pauses a campaign when WhatsApp starts refusing.
//!
//! Everything here is a pure function of the settings and a time given by the caller, so a
//! test drives it with any clock; the campaign worker gives it the database's day and the
//! tenant's local time.

use std::str::FromStr;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Weekday};
use serde::{Deserialize, Serialize};

/// An inbox's pacing, as stored (`inboxes.pacing`) and as the API takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Pacing {
    /// Most messages the number sends per day (midnight to midnight in the tenant's time
    /// zone), across all its campaigns; absent: no cap. At least 1.
    #[serde(default)]
    pub daily_cap: Option<u32>,
    /// A ramp for a new number: the daily allowance starts low and grows each day up to
    /// `dailyCap` (which it needs).
    #[serde(default)]
    pub warmup: Option<Warmup>,
    /// When the number may send; absent: any time.
    #[serde(default)]
    pub window: Option<SendWindow>,
    /// "typing..." before each message, for a time that grows with its length.
    #[serde(default = "yes")]
    pub typing: bool,
    /// When failed sends come this thick, the campaign pauses itself.
    #[serde(default)]
    pub breaker: Breaker,
}

fn yes() -> bool {
    true
}

impl Default for Pacing {
    fn default() -> Self {
        Self {
            daily_cap: None,
            warmup: None,
            window: None,
            typing: true,
            breaker: Breaker::default(),
        }
    }
}

/// The warm-up ramp: `start` messages on its first day, times `factor` each day after.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Warmup {
    /// Messages on the first day (default 20).
    #[serde(default = "default_warmup_start")]
    pub start: u32,
    /// Growth per day, 1.05 to 10 (default 1.5: 20, 30, 45, 68, ...).
    #[serde(default = "default_warmup_factor")]
    pub factor: f64,
    /// The ramp's first day (the tenant's calendar); set to today when absent.
    #[serde(default)]
    pub started_on: Option<NaiveDate>,
}

fn default_warmup_start() -> u32 {
    20
}
fn default_warmup_factor() -> f64 {
    1.5
}

/// Hours on given weekdays. `from` after `to` is a window across midnight (22:00 to 06:00),
/// which belongs to the day it opens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SendWindow {
    /// `mon` ... `sun`; at least one.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>, example = json!(["mon", "tue", "wed", "thu", "fri"])))]
    pub days: Vec<Day>,
    /// `HH:MM`, local time.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "09:00"))]
    pub from: ClockTime,
    /// `HH:MM`, local time; not equal to `from`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "18:00"))]
    pub to: ClockTime,
}

/// A weekday as the API writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    fn weekday(self) -> Weekday {
        match self {
            Day::Mon => Weekday::Mon,
            Day::Tue => Weekday::Tue,
            Day::Wed => Weekday::Wed,
            Day::Thu => Weekday::Thu,
            Day::Fri => Weekday::Fri,
            Day::Sat => Weekday::Sat,
            Day::Sun => Weekday::Sun,
        }
    }
}

/// A local time of day written `HH:MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(NaiveTime);

impl ClockTime {
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(Self)
    }
}

impl TryFrom<String> for ClockTime {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        NaiveTime::parse_from_str(&text, "%H:%M")
            .map(Self)
            .map_err(|_| format!("`{text}` is not a time of day written HH:MM"))
    }
}

impl From<ClockTime> for String {
    fn from(time: ClockTime) -> Self {
        time.0.format("%H:%M").to_string()
    }
}

/// The failure breaker: more than `failures` failed sends of the number within
/// `windowSeconds` pause the campaign (numbers that are not on WhatsApp do not count: the
/// number check keeps them from being sent to).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Breaker {
    /// 1 to 10 000 (default 10).
    #[serde(default = "default_breaker_failures")]
    pub failures: u32,
    /// 10 to 86 400 (default 600).
    #[serde(default = "default_breaker_window")]
    pub window_seconds: u32,
}

fn default_breaker_failures() -> u32 {
    10
}
fn default_breaker_window() -> u32 {
    600
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            failures: default_breaker_failures(),
            window_seconds: default_breaker_window(),
        }
    }
}

/// Why settings cannot be used: the field (`dailyCap`, `window.days`, ...) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct PacingError {
    pub field: &'static str,
    pub message: String,
}

fn invalid(field: &'static str, message: impl Into<String>) -> PacingError {
    PacingError {
        field,
        message: message.into(),
    }
}

/// The highest daily cap taken (WhatsApp itself limits far below it).
pub const MAX_DAILY_CAP: u32 = 1_000_000;

impl Pacing {
    /// Checks settings as a tenant gives them and starts a new warm-up `today`.
    pub fn checked(mut self, today: NaiveDate) -> Result<Self, PacingError> {
        match self.daily_cap {
            Some(0) => {
                return Err(invalid(
                    "dailyCap",
                    "a daily cap of 0 would never send; leave `dailyCap` out for no cap, or pause the campaigns",
                ));
            }
            Some(cap) if cap > MAX_DAILY_CAP => {
                return Err(invalid(
                    "dailyCap",
                    format!("the daily cap is at most {MAX_DAILY_CAP}"),
                ));
            }
            _ => {}
        }
        if let Some(warmup) = &mut self.warmup {
            let Some(cap) = self.daily_cap else {
                return Err(invalid(
                    "warmup",
                    "a warm-up grows up to `dailyCap`: set one",
                ));
            };
            if warmup.start == 0 || warmup.start > cap {
                return Err(invalid(
                    "warmup.start",
                    format!("the first day's allowance must be 1 to the daily cap ({cap})"),
                ));
            }
            if !(1.05..=10.0).contains(&warmup.factor) || warmup.factor.is_nan() {
                return Err(invalid(
                    "warmup.factor",
                    "the daily growth factor must be 1.05 to 10",
                ));
            }
            if warmup.started_on.is_none() {
                warmup.started_on = Some(today);
            }
        }
        if let Some(window) = &self.window {
            if window.days.is_empty() {
                return Err(invalid(
                    "window.days",
                    "a send window needs at least one day",
                ));
            }
            if window.from == window.to {
                return Err(invalid(
                    "window.to",
                    "a send window with no hours: `from` and `to` are equal",
                ));
            }
        }
        if !(1..=10_000).contains(&self.breaker.failures) {
            return Err(invalid("breaker.failures", "must be 1 to 10000"));
        }
        if !(10..=86_400).contains(&self.breaker.window_seconds) {
            return Err(invalid("breaker.windowSeconds", "must be 10 to 86400"));
        }
        Ok(self)
    }

    /// How many messages the number may send on `today` (its warm-up day, capped); `None`:
    /// no limit.
    pub fn allowance(&self, today: NaiveDate) -> Option<u32> {
        let cap = self.daily_cap?;
        let Some(warmup) = &self.warmup else {
            return Some(cap);
        };
        let first = warmup.started_on.unwrap_or(today);
        let day = (today - first).num_days().max(0);
        // Past ~60 days any factor has reached any cap: no need to compute huge powers.
        let ramp = f64::from(warmup.start) * warmup.factor.powi(day.min(60) as i32);
        Some((ramp.round() as u64).min(u64::from(cap)) as u32)
    }
}

/// Whether a window is open at a local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// Open, and closes in this long.
    Open { closes_in: Duration },
    /// Closed, and opens in this long.
    Closed { opens_in: Duration },
}

impl SendWindow {
    /// The window's state at local time `now`.
    pub fn state(&self, now: NaiveDateTime) -> WindowState {
        let days: Vec<Weekday> = self.days.iter().map(|d| d.weekday()).collect();
        let overnight = self.from > self.to;
        let mut next_open: Option<NaiveDateTime> = None;
        // Yesterday's overnight window may still be open; a week ahead holds the next opening.
        for offset in -1..=7 {
            let date = now.date() + TimeDelta::days(offset);
            if !days.contains(&date.weekday()) {
                continue;
            }
            let opens = date.and_time(self.from.0);
            let closes = if overnight {
                (date + TimeDelta::days(1)).and_time(self.to.0)
            } else {
                date.and_time(self.to.0)
            };
            if opens <= now && now < closes {
                return WindowState::Open {
                    closes_in: (closes - now).to_std().unwrap_or_default(),
                };
            }
            if opens > now && next_open.is_none_or(|at| opens < at) {
                next_open = Some(opens);
            }
        }
        let opens_in = next_open
            .map(|at| (at - now).to_std().unwrap_or_default())
            // Not reached: some day of the coming week is a window day.
            .unwrap_or(Duration::from_secs(24 * 3600));
        WindowState::Closed { opens_in }
    }
}

/// How long "typing..." shows before a message of `chars` characters: `per_char` each, at
/// least `min` and at most `max`.
pub fn typing_time(chars: usize, per_char: Duration, min: Duration, max: Duration) -> Duration {
    per_char
        .saturating_mul(u32::try_from(chars).unwrap_or(u32::MAX))
        .clamp(min, max.max(min))
}

/// A time zone by its IANA name (`America/Sao_Paulo`).
pub fn time_zone(name: &str) -> Result<chrono_tz::Tz, String> {
    chrono_tz::Tz::from_str(name)
        .map_err(|_| format!("`{name}` is not an IANA time zone name such as America/Sao_Paulo"))
}

/// Time until the next local midnight after `now` (when a daily cap renews).
pub fn until_next_day(now: NaiveDateTime) -> Duration {
    let midnight = (now.date() + TimeDelta::days(1)).and_time(NaiveTime::MIN);
    (midnight - now).to_std().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }
    fn at(text: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap()
    }
    fn pacing(json: serde_json::Value) -> Result<Pacing, PacingError> {
        serde_json::from_value::<Pacing>(json)
            .unwrap()
            .checked(day("2026-12-01"))
    }

    #[test]
    fn the_warm_up_grows_each_day_up_to_the_cap() {
        let p =
            pacing(serde_json::json!({"dailyCap": 100, "warmup": {"start": 20, "factor": 1.5}}))
                .unwrap();
        assert_eq!(
            p.warmup.as_ref().unwrap().started_on,
            Some(day("2026-12-01"))
        );
        let days: Vec<u32> = (1..=7)
            .map(|d| p.allowance(day(&format!("2026-12-0{d}"))).unwrap())
            .collect();
        assert_eq!(days, [20, 30, 45, 68, 100, 100, 100]);
        let plain = pacing(serde_json::json!({"dailyCap": 7})).unwrap();
        assert_eq!(plain.allowance(day("2030-01-01")), Some(7));
        assert_eq!(Pacing::default().allowance(day("2030-01-01")), None);
        assert!(Pacing::default().typing, "typing is on by default");
    }

    #[test]
    fn bad_settings_name_their_field() {
        let field = |json| pacing(json).unwrap_err().field;
        assert_eq!(field(serde_json::json!({"dailyCap": 0})), "dailyCap");
        assert_eq!(field(serde_json::json!({"warmup": {}})), "warmup");
        assert_eq!(
            field(serde_json::json!({"dailyCap": 100, "warmup": {"factor": 0.5}})),
            "warmup.factor"
        );
        assert_eq!(
            field(serde_json::json!({"dailyCap": 10, "warmup": {"start": 11}})),
            "warmup.start"
        );
        assert_eq!(
            field(serde_json::json!({"window": {"days": [], "from": "09:00", "to": "18:00"}})),
            "window.days"
        );
        assert_eq!(
            field(serde_json::json!({"window": {"days": ["mon"], "from": "09:00", "to": "09:00"}})),
            "window.to"
        );
        assert_eq!(
            field(serde_json::json!({"breaker": {"failures": 0}})),
            "breaker.failures"
        );
        assert!(
            serde_json::from_value::<Pacing>(
                serde_json::json!({"window": {"days": ["mon"], "from": "9am", "to": "18:00"}})
            )
            .is_err()
        );
    }

    #[test]
    fn windows_open_on_their_days_and_hours_even_across_midnight() {
        let office = SendWindow {
            days: vec![Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri],
            from: ClockTime::new(9, 0).unwrap(),
            to: ClockTime::new(18, 0).unwrap(),
        };
        // 2026-12-04 is a Friday.
        assert_eq!(
            office.state(at("2026-12-04 17:00")),
            WindowState::Open {
                closes_in: Duration::from_secs(3600)
            }
        );
        assert_eq!(
            office.state(at("2026-12-04 08:30")),
            WindowState::Closed {
                opens_in: Duration::from_secs(1800)
            }
        );
        // Friday evening: closed until Monday 09:00.
        assert_eq!(
            office.state(at("2026-12-04 18:00")),
            WindowState::Closed {
                opens_in: Duration::from_secs((2 * 24 + 15) * 3600)
            }
        );
        let night = SendWindow {
            days: vec![Day::Sat],
            from: ClockTime::new(22, 0).unwrap(),
            to: ClockTime::new(2, 0).unwrap(),
        };
        // Saturday 22:00 to Sunday 02:00.
        assert_eq!(
            night.state(at("2026-12-06 01:00")),
            WindowState::Open {
                closes_in: Duration::from_secs(3600)
            }
        );
        assert!(matches!(
            night.state(at("2026-12-06 03:00")),
            WindowState::Closed { .. }
        ));
    }

    #[test]
    fn typing_grows_with_the_message_within_bounds() {
        let ms = Duration::from_millis;
        assert_eq!(typing_time(10, ms(50), ms(800), ms(5000)), ms(800));
        assert_eq!(typing_time(40, ms(50), ms(800), ms(5000)), ms(2000));
        assert_eq!(typing_time(4000, ms(50), ms(800), ms(5000)), ms(5000));
        assert_eq!(
            until_next_day(at("2026-12-04 23:30")),
            Duration::from_secs(1800)
        );
        assert!(time_zone("America/Sao_Paulo").is_ok());
        assert!(time_zone("Mars/Olympus").is_err());
    }
}
