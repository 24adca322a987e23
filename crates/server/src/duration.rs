//! Human durations for configuration and flags: `90s`, `15m`, `1h`, `30d`, `1h30m`, or a bare
//! number of seconds.

/// Parses a duration into seconds.
pub fn parse_duration(input: &str) -> Result<i64, String> {
    let s = input.trim();
    if s.is_empty() {
        return Err(String::from("empty duration"));
    }
    if let Ok(secs) = s.parse::<i64>() {
        return if secs >= 0 {
            Ok(secs)
        } else {
            Err(format!("'{s}' is negative"))
        };
    }
    let mut total: i64 = 0;
    let mut number = String::new();
    for ch in s.chars() {
        if ch.is_ascii_digit() {
            number.push(ch);
            continue;
        }
        let unit = match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => {
                return Err(format!(
                    "'{s}' is not a duration (use e.g. 90s, 15m, 1h, 30d)"
                ));
            }
        };
        let n: i64 = number
            .parse()
            .map_err(|_| format!("'{s}' is not a duration (use e.g. 90s, 15m, 1h, 30d)"))?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("'{s}' is too large"))?;
        number.clear();
    }
    if !number.is_empty() {
        return Err(format!("'{s}' has a number without a unit"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses() {
        assert_eq!(parse_duration("90"), Ok(90));
        assert_eq!(parse_duration("15m"), Ok(900));
        assert_eq!(parse_duration("1h30m"), Ok(5400));
        assert_eq!(parse_duration("30d"), Ok(2_592_000));
        assert!(parse_duration("15 minutes").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("1h5").is_err());
        assert!(parse_duration("-5").is_err());
    }
}
