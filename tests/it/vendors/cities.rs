//! `autoprov render` (the real binary) for phones of every vendor in six
//! offices: Berlin, New York, São Paulo, Sydney, Kolkata and Chatham, each
//! user's zone from the CSV `timezone` column. The clock lines are the
//! vendor's own values. Where a vendor has a name list (Yealink, Snom,
//! Grandstream), a name may stand in for the offset and rule: it must be a
//! listed one whose row's zone keeps the city's clock this year and next.
//! A zone no vendor can express prints a warning on stderr.

use std::collections::BTreeMap;

use autoprov::vendors::{self, Vendor};
use chrono::{Datelike, TimeZone};
use chrono_tz::{OffsetComponents, Tz};

use crate::support::cli::Env;

const CITIES: [&str; 6] = [
    "Europe/Berlin",
    "America/New_York",
    "America/Sao_Paulo",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Chatham",
];

/// (vendor, model, MAC prefix) of the test phones.
const PHONES: [(&str, &str, &str); 6] = [
    ("yealink", "yealink-t54w", "805ec0"),
    ("polycom", "polycom-vvx411", "0004f2"),
    ("cisco", "cisco-8841", "d0ec35"),
    ("grandstream", "grandstream-gxp2170", "000b82"),
    ("snom", "snom-d785", "000413"),
    ("fanvil", "fanvil-x4", "0c383e"),
];

fn mac(prefix: &str, vendor: usize, city: usize) -> String {
    format!("{prefix}{vendor:02x}00{city:02x}")
}

/// Every `key = value` line, XML element text and XML attribute of a file.
fn settings(body: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    match roxmltree::Document::parse(body) {
        Ok(doc) => {
            for n in doc.descendants().filter(|n| n.is_element()) {
                out.insert(
                    n.tag_name().name().to_string(),
                    n.text().unwrap_or("").trim().to_string(),
                );
                for a in n.attributes() {
                    out.insert(a.name().to_string(), a.value().to_string());
                }
            }
        }
        Err(_) => {
            for (k, v) in body.lines().filter_map(|l| l.split_once(" = ")) {
                out.insert(k.trim().to_string(), v.trim().to_string());
            }
        }
    }
    out
}

/// The offset (seconds east) every 6 hours over this year and next.
fn clock(tz: Tz) -> Vec<i64> {
    let year = chrono::DateTime::from_timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64,
        0,
    )
    .expect("now")
    .year();
    let start = chrono::NaiveDate::from_ymd_opt(year, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("1 January")
        .and_utc()
        .timestamp();
    (0..2 * 366 * 4)
        .map(|i| {
            let t = chrono::DateTime::from_timestamp(start + i * 6 * 3600, 0).expect("time");
            let o = tz.offset_from_utc_datetime(&t.naive_utc());
            (o.base_utc_offset() + o.dst_offset()).num_seconds()
        })
        .collect()
}

/// A listed value of the vendor whose row's zone keeps `city`'s clock.
fn listed_for(v: &Vendor, value: &str, city: &str) -> bool {
    let want = clock(city.parse().expect("city"));
    v.provisioning
        .timezone_names
        .iter()
        .filter(|(_, val)| *val == value)
        .filter_map(|(zone, _)| zone.parse::<Tz>().ok())
        .any(|tz| clock(tz) == want)
}

/// The lines each vendor's file must carry for `city` when no listed name
/// stands for it (Cisco, Polycom and Fanvil have no name list).
fn expected(vendor: &str, city: &str) -> Vec<(&'static str, &'static str)> {
    match (vendor, city) {
        ("yealink", "Europe/Berlin") => vec![
            ("local_time.time_zone", "+1"),
            ("local_time.summer_time", "1"),
            ("local_time.dst_time_type", "1"),
            ("local_time.start_time", "3/5/7/2"),
            ("local_time.end_time", "10/5/7/3"),
            ("local_time.offset_time", "60"),
        ],
        ("yealink", "America/New_York") => vec![
            ("local_time.time_zone", "-5"),
            ("local_time.summer_time", "1"),
            ("local_time.start_time", "3/2/7/2"),
            ("local_time.end_time", "11/1/7/2"),
        ],
        ("yealink", "America/Sao_Paulo") => vec![
            ("local_time.time_zone", "-3"),
            ("local_time.summer_time", "0"),
        ],
        ("yealink", "Australia/Sydney") => vec![
            ("local_time.time_zone", "+10"),
            ("local_time.summer_time", "1"),
            ("local_time.start_time", "10/1/7/2"),
            ("local_time.end_time", "4/1/7/3"),
        ],
        ("yealink", "Asia/Kolkata") => vec![
            ("local_time.time_zone", "+5:30"),
            ("local_time.summer_time", "0"),
        ],
        ("yealink", "Pacific/Chatham") => vec![
            ("local_time.time_zone", "+12:45"),
            ("local_time.summer_time", "1"),
            ("local_time.start_time", "9/5/7/2"),
            ("local_time.end_time", "4/1/7/3"),
        ],
        ("cisco", "Europe/Berlin") => vec![
            ("Time_Zone", "GMT+01:00"),
            ("Time_Offset__HH_mm_", ""),
            ("Daylight_Saving_Time_Enable", "Yes"),
            (
                "Daylight_Saving_Time_Rule",
                "start=3/-1/7/2;end=10/-1/7/3;save=1",
            ),
        ],
        ("cisco", "America/New_York") => vec![
            ("Time_Zone", "GMT-05:00"),
            (
                "Daylight_Saving_Time_Rule",
                "start=3/8/7/2;end=11/1/7/2;save=1",
            ),
        ],
        ("cisco", "America/Sao_Paulo") => vec![
            ("Time_Zone", "GMT-03:00"),
            ("Daylight_Saving_Time_Enable", "No"),
        ],
        ("cisco", "Australia/Sydney") => vec![
            ("Time_Zone", "GMT+10:00"),
            (
                "Daylight_Saving_Time_Rule",
                "start=10/1/7/2;end=4/1/7/3;save=1",
            ),
        ],
        ("cisco", "Asia/Kolkata") => vec![
            ("Time_Zone", "GMT+05:00"),
            ("Time_Offset__HH_mm_", "00/30"),
            ("Daylight_Saving_Time_Enable", "No"),
        ],
        ("cisco", "Pacific/Chatham") => vec![
            ("Time_Zone", "GMT+12:00"),
            ("Time_Offset__HH_mm_", "00/45"),
            (
                "Daylight_Saving_Time_Rule",
                "start=9/-1/7/2:45:00;end=4/1/7/3:45:00;save=1",
            ),
        ],
        ("polycom", "Europe/Berlin") => vec![
            ("tcpIpApp.sntp.gmtOffset", "3600"),
            ("tcpIpApp.sntp.daylightSavings.enable", "1"),
            ("tcpIpApp.sntp.daylightSavings.start.month", "3"),
            ("tcpIpApp.sntp.daylightSavings.start.dayOfWeek", "1"),
            (
                "tcpIpApp.sntp.daylightSavings.start.dayOfWeek.lastInMonth",
                "1",
            ),
            ("tcpIpApp.sntp.daylightSavings.stop.month", "10"),
            ("tcpIpApp.sntp.daylightSavings.stop.time", "3"),
        ],
        ("polycom", "America/New_York") => vec![
            ("tcpIpApp.sntp.gmtOffset", "-18000"),
            ("tcpIpApp.sntp.daylightSavings.start.date", "8"),
            ("tcpIpApp.sntp.daylightSavings.stop.month", "11"),
            ("tcpIpApp.sntp.daylightSavings.stop.date", "1"),
        ],
        ("polycom", "America/Sao_Paulo") => vec![
            ("tcpIpApp.sntp.gmtOffset", "-10800"),
            ("tcpIpApp.sntp.daylightSavings.enable", "0"),
        ],
        ("polycom", "Australia/Sydney") => vec![
            ("tcpIpApp.sntp.gmtOffset", "36000"),
            ("tcpIpApp.sntp.daylightSavings.start.month", "10"),
            ("tcpIpApp.sntp.daylightSavings.stop.month", "4"),
        ],
        ("polycom", "Asia/Kolkata") => vec![
            ("tcpIpApp.sntp.gmtOffset", "19800"),
            ("tcpIpApp.sntp.daylightSavings.enable", "0"),
        ],
        ("polycom", "Pacific/Chatham") => vec![
            ("tcpIpApp.sntp.gmtOffset", "45900"),
            ("tcpIpApp.sntp.daylightSavings.start.month", "9"),
            ("tcpIpApp.sntp.daylightSavings.start.time", "2"),
        ],
        ("fanvil", "Europe/Berlin") => vec![
            ("TimeZone", "4"),
            ("EnableDST", "2"),
            ("DSTFixedType", "2"),
            ("DSTStartMon", "3"),
            ("DSTStartWeek", "-1"),
            ("DSTStartWday", "0"),
            ("DSTEndHour", "3"),
        ],
        ("fanvil", "America/New_York") => vec![
            ("TimeZone", "-20"),
            ("DSTFixedType", "2"),
            ("DSTStartWeek", "2"),
            ("DSTEndMon", "11"),
        ],
        ("fanvil", "America/Sao_Paulo") => vec![("TimeZone", "-12"), ("EnableDST", "0")],
        ("fanvil", "Australia/Sydney") => vec![
            ("TimeZone", "40"),
            ("DSTStartMon", "10"),
            ("DSTEndMon", "4"),
        ],
        ("fanvil", "Asia/Kolkata") => vec![
            ("TimeZone", "22"),
            ("TimeZoneName", "UTC+5:30"),
            ("EnableDST", "0"),
        ],
        ("fanvil", "Pacific/Chatham") => vec![
            ("TimeZone", "51"),
            ("DSTStartMon", "9"),
            ("DSTStartWeek", "-1"),
        ],
        ("snom", "Europe/Berlin") => vec![
            ("utc_offset", "+3600"),
            ("dst", "3600 03.05.07 02:00:00 10.05.07 03:00:00"),
        ],
        ("snom", "America/New_York") => vec![
            ("utc_offset", "-18000"),
            ("dst", "3600 03.02.07 02:00:00 11.01.07 02:00:00"),
        ],
        ("snom", "America/Sao_Paulo") => vec![("utc_offset", "-10800"), ("dst", "")],
        ("snom", "Australia/Sydney") => vec![
            ("utc_offset", "+36000"),
            ("dst", "3600 10.01.07 02:00:00 04.01.07 03:00:00"),
        ],
        ("snom", "Asia/Kolkata") => vec![("utc_offset", "+19800"), ("dst", "")],
        ("snom", "Pacific/Chatham") => vec![
            ("utc_offset", "+45900"),
            ("dst", "3600 09.05.07 02:45:00 04.01.07 03:45:00"),
        ],
        ("grandstream", "Europe/Berlin") => {
            vec![("P64", "customize"), ("P246", "CET-1CEST,M3.5.0,M10.5.0/3")]
        }
        ("grandstream", "America/New_York") => {
            vec![("P64", "customize"), ("P246", "EST5EDT,M3.2.0,M11.1.0")]
        }
        ("grandstream", "America/Sao_Paulo") => vec![("P64", "customize"), ("P246", "<-03>3")],
        ("grandstream", "Australia/Sydney") => {
            vec![
                ("P64", "customize"),
                ("P246", "AEST-10AEDT,M10.1.0,M4.1.0/3"),
            ]
        }
        ("grandstream", "Asia/Kolkata") => vec![("P64", "customize"), ("P246", "IST-5:30")],
        ("grandstream", "Pacific/Chatham") => vec![
            ("P64", "customize"),
            ("P246", "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45"),
        ],
        other => panic!("no expectation for {other:?}"),
    }
}

/// The key that carries a listed name, per vendor with a list.
fn name_key(vendor: &str) -> Option<&'static str> {
    match vendor {
        "yealink" => Some("local_time.time_zone_name"),
        "snom" => Some("timezone"),
        "grandstream" => Some("P64"),
        _ => None,
    }
}

#[test]
fn render_shows_each_vendors_clock_in_six_offices() {
    let env = Env::new();
    let mut csv = String::from(
        "username,first_name,last_name,extension,sip_password,timezone,transport,mac,phone_model\n",
    );
    for (vi, (_, model, prefix)) in PHONES.iter().enumerate() {
        for (ci, city) in CITIES.iter().enumerate() {
            let ext = 5000 + vi * 10 + ci;
            let mac = mac(prefix, vi, ci);
            csv.push_str(&format!(
                "u{ext},Office,{ci},{ext},Pass-{ext}-word,{city},udp,{mac},{model}\n"
            ));
        }
    }
    // And one in a zone no vendor can express.
    csv.push_str(
        "casa,Office,Casa,5999,Pass-5999-word,Africa/Casablanca,udp,805ec0ff00ff,yealink-t54w\n",
    );
    let run = env.import_csv(&csv, &[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);

    let mut failures = Vec::new();
    for (vi, (vendor, _, prefix)) in PHONES.iter().enumerate() {
        let v = vendors::by_id(vendor).expect("vendor");
        for (ci, city) in CITIES.iter().enumerate() {
            let mac = mac(prefix, vi, ci);
            let r = env.run(&["render", &mac]);
            let label = format!("{vendor} {city}");
            if r.code != 0 || r.stderr.contains("warning") {
                failures.push(format!("{label}: exit {} stderr {}", r.code, r.stderr));
                continue;
            }
            let s = settings(&r.stdout);
            let listed = name_key(vendor)
                .and_then(|k| s.get(k))
                .filter(|n| !n.is_empty() && n.as_str() != "customize");
            if let Some(name) = listed {
                if !listed_for(v, name, city) {
                    failures.push(format!(
                        "{label}: {name:?} is not a listed value keeping {city}'s clock"
                    ));
                }
                continue;
            }
            for (k, want) in expected(vendor, city) {
                let got = s.get(k).map(String::as_str);
                if got != Some(want) {
                    failures.push(format!("{label}: {k} = {got:?}, want {want:?}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    // The zone Yealink cannot express: the file still renders, and says so.
    let r = env.run(&["render", "805ec0ff00ff"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.contains("autoprov: warning: Africa/Casablanca: "),
        "{}",
        r.stderr
    );
    assert!(
        r.stdout.contains("local_time.time_zone = +1"),
        "{}",
        r.stdout
    );
}

/// Served over HTTPS (real server, real curl), the same zone is logged at
/// WARN with the phone's MAC, vendor and zone, and never with a secret.
#[test]
fn a_zone_the_vendor_cannot_express_is_logged_when_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("casa.csv");
    std::fs::write(
        &csv,
        "username,first_name,last_name,extension,sip_password,timezone,transport,mac,phone_model\n\
         casa,Office,Casa,5999,Casa-Sip-5999-secret,Africa/Casablanca,udp,805ec0ff00ff,yealink-t54w\n",
    )
    .expect("write csv");
    let (_tmp, _data, server) = crate::support::server::serving(&csv);
    let main = server.get_https("/805ec0ff00ff.cfg", None);
    assert_eq!(main.status, 200, "{}", server.log());
    assert!(main.text().contains("Casa-Sip-5999-secret"));
    // The log is read from the server's stderr as it comes: wait for it.
    let warned = |log: &str| {
        log.lines()
            .find(|l| l.contains("WARN") && l.contains("cannot express the zone"))
            .map(str::to_string)
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut log = server.log();
    while warned(&log).is_none() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
        log = server.log();
    }
    let line = warned(&log).unwrap_or_else(|| panic!("no clock warning in the log:\n{log}"));
    for part in ["80:5e:c0:ff:00:ff", "yealink", "Africa/Casablanca"] {
        assert!(line.contains(part), "{part} not in {line}");
    }
    assert!(!log.contains("Casa-Sip-5999-secret"), "a secret in the log");
}
