//! UTC calendar arithmetic, so that versions and timestamps need no date crate.

use std::time::{SystemTime, UNIX_EPOCH};

/// Days since 1970-01-01 to (year, month, day), after Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn split(secs: i64) -> (i64, u32, u32, i64, i64, i64) {
    let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    (year, month, day, rem / 3600, rem % 3600 / 60, rem % 60)
}

/// A migration version for `time`: UTC `YYYYMMDDHHMMSS`, as knex writes them.
pub fn utc_version(time: SystemTime) -> i64 {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (y, mo, d, h, mi, s) = split(secs);
    ((((y * 100 + i64::from(mo)) * 100 + i64::from(d)) * 100 + h) * 100 + mi) * 100 + s
}

/// `2025-08-23 07:58:42 UTC` for milliseconds since the Unix epoch.
pub fn format_utc_millis(millis: i64) -> String {
    let (y, mo, d, h, mi, s) = split(millis.div_euclid(1000));
    format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn versions_and_timestamps() {
        let t = UNIX_EPOCH + Duration::from_secs(1_755_935_922); // 2025-08-23 07:58:42 UTC
        assert_eq!(utc_version(t), 20250823075842);
        assert_eq!(
            format_utc_millis(1_755_935_922_123),
            "2025-08-23 07:58:42 UTC"
        );
        assert_eq!(format_utc_millis(0), "1970-01-01 00:00:00 UTC");
        // A leap day.
        assert_eq!(
            format_utc_millis(951_782_400_000),
            "2000-02-29 00:00:00 UTC"
        );
    }
}
