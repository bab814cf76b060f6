//! A user with two SIP lines gets both on every vendor's phone that can take
//! them, each with its own password (what `render` prints is what the HTTPS listener sends).

use crate::support::cli::Env;

#[test]
fn two_lines_reach_every_vendor() {
    let env = Env::new();
    let csv = "username,first_name,last_name,extension,sip_password,transport,mac,phone_model\n\
               two,Tess,Two,3001;3002,FirstLinePw1;SecondLinePw2,tls,\
               805ec0303030;0004f2303030;00269930303a;000b82303030;000413303030;0c383e303030,\
               yealink-t54w;polycom-vvx450;cisco-8841;grandstream-grp2614;snom-d785;fanvil-x4u\n\
               seven,Sev,En,4001;4002;4003;4004;4005;4006;4007,,udp,000b82404040,grandstream-gxp2170\n";
    let r = env.import_csv(csv, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    for mac in [
        "805ec0303030",
        "0004f2303030",
        "00269930303a",
        "000b82303030",
        "000413303030",
        "0c383e303030",
    ] {
        let out = env.run(&["render", mac]);
        assert_eq!(out.code, 0, "{mac}: {}", out.stderr);
        assert_contains_all(
            &out.stdout,
            &["3001", "3002", "FirstLinePw1", "SecondLinePw2"],
        );
    }
    // Yealink: both accounts, on TLS (transport 2, port 5061).
    let y = env.run(&["render", "805ec0303030"]).stdout;
    for line in [
        "account.1.user_name = 3001",
        "account.2.user_name = 3002",
        "account.2.password = SecondLinePw2",
        "account.2.sip_server.1.transport_type = 2",
        "account.2.sip_server.1.port = 5061",
    ] {
        assert!(y.lines().any(|l| l == line), "missing {line:?} in:\n{y}");
    }
    // Grandstream: account 2 in the P4xx block; accounts 3-6 in P5xx-P8xx,
    // and a seventh line has nowhere to go (six accounts at most).
    let g = env.run(&["render", "000b82303030"]).stdout;
    assert_contains_all(
        &g,
        &[
            "<P404>3002</P404>",
            "<P406>SecondLinePw2</P406>",
            "<P448>2</P448>",
        ],
    );
    let seven = env.run(&["render", "000b82404040"]);
    assert_eq!(seven.code, 0, "{}", seven.stderr);
    assert_contains_all(
        &seven.stdout,
        &[
            "<P504>4003</P504>",
            "<P604>4004</P604>",
            "<P704>4005</P704>",
            "<P804>4006</P804>",
            "<P848>0</P848>",
        ],
    );
    assert!(!seven.stdout.contains("4007"), "{}", seven.stdout);
}

/// Fails naming the first of `needles` that `text` lacks.
fn assert_contains_all(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "missing {needle} in:\n{text}");
    }
}
