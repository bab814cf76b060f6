//! A user with two SIP lines gets both on every vendor's phone that can take
//! them, each with its own password (what `render` prints is what the HTTPS listener sends).

mod common;

use common::Env;

#[test]
fn two_lines_reach_every_vendor() {
    let env = Env::new();
    let csv = "username,first_name,last_name,extension,sip_password,transport,mac,phone_model\n\
               two,Tess,Two,3001;3002,FirstLinePw1;SecondLinePw2,tls,\
               805ec0303030;0004f2303030;00269930303a;000b82303030;000413303030;0c383e303030,\
               yealink-t54w;polycom-vvx450;cisco-8841;grandstream-grp2614;snom-d785;fanvil-x4u\n";
    let r = env.import_csv(csv, &[]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // Grandstream is left out: vendors.md pins only account 1's P-codes, so
    // its template writes one account (README, "Grandstream").
    for mac in [
        "805ec0303030",
        "0004f2303030",
        "00269930303a",
        "000413303030",
        "0c383e303030",
    ] {
        let out = env.run(&["render", mac]);
        assert_eq!(out.code, 0, "{mac}: {}", out.stderr);
        for needle in ["3001", "3002", "FirstLinePw1", "SecondLinePw2"] {
            assert!(
                out.stdout.contains(needle),
                "{mac}: main file lacks {needle}:\n{}",
                out.stdout
            );
        }
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
}
