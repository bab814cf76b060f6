//! Two `autoprov serve` processes on one database, driven with real curl.

use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{Node, within};
use crate::support::cli::Env;
use crate::support::fixtures::{ALICE_MAC, UA, users_csv};
use crate::support::postgres::{self, fresh_database};
use crate::support::server::api;
use crate::support::tools::{find_in, unavailable};

/// The token `autoprov admin token create --store URL` prints: no server
/// involved, the list lives in the database.
fn create_token(url: &str, name: &str) -> String {
    let env = Env::new();
    let r = postgres::run(
        &env.data(),
        url,
        &["admin", "token", "create", "--name", name],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.stdout.trim().to_string()
}

#[test]
fn an_import_through_one_node_is_served_by_the_other_within_a_second() {
    let Some(url) = fresh_database() else { return };
    let token = create_token(&url, "lb");
    let (a, b) = (Node::start(&url), Node::start(&url));
    let phone = format!("/{ALICE_MAC}.cfg");
    // Not imported yet: neither node knows the phone.
    assert_eq!(b.server.get_https(&phone, Some(UA)).status, 404);

    // The token made once works on both nodes; a wrong one on neither.
    for n in [&a, &b] {
        let ok = api(&n.server, "GET", "/api/v1/history", Some(&token), &[]);
        assert_eq!(ok.status, 200, "{}", ok.text());
        let bad = api(&n.server, "GET", "/api/v1/history", Some("apt_wrong"), &[]);
        assert_eq!(bad.status, 401);
    }

    let body = format!("@{}", users_csv().display());
    let imported = api(
        &a.server,
        "POST",
        "/api/v1/import?format=json",
        Some(&token),
        &["--data-binary", &body],
    );
    assert_eq!(imported.status, 200, "{}", imported.text());
    let took = within(Duration::from_secs(5), || {
        b.server.get_https(&phone, Some(UA)).status == 200
    });
    let took = took.unwrap_or_else(|| panic!("B never served the import:\n{}", b.server.log()));
    eprintln!("node B served node A's import after {took:?}");
    assert!(took <= Duration::from_secs(1), "B took {took:?}");
    // Both serve the same file, rendered from the same users.
    let (fa, fb) = (
        a.server.get_https(&phone, Some(UA)),
        b.server.get_https(&phone, Some(UA)),
    );
    assert_eq!(fa.status, 200);
    assert!(fb.text().contains("Alice"), "{}", fb.text());
    assert_eq!(
        crate::support::formats::yealink_settings(&fa.body, false)["account.1.display_name"],
        crate::support::formats::yealink_settings(&fb.body, false)["account.1.display_name"],
    );

    // A revoked token stops working on both within a refresh or two.
    let env = Env::new();
    let r = postgres::run(&env.data(), &url, &["admin", "token", "revoke", "lb"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for n in [&a, &b] {
        let gone = within(Duration::from_secs(3), || {
            api(&n.server, "GET", "/api/v1/history", Some(&token), &[]).status == 401
        });
        assert!(gone.is_some(), "a revoked token still works");
    }
}

/// `n` users; `tag` starts every last name, so a second file changes all.
fn many_users(n: usize, tag: &str) -> String {
    let mut s =
        String::from("username,first_name,last_name,extension,sip_password,mac,phone_model\n");
    for i in 0..n {
        s.push_str(&format!(
            "user{i:06},First{i},{tag}{i},{},pw-{i:06}-fixed,805ec1{:06x},yealink-t54w\n",
            100_000 + i,
            i + 1
        ));
    }
    s
}

/// The Yealink file of user `i` as `node` serves it, if it does.
fn served(node: &Node, i: usize) -> Option<String> {
    let mac = format!("805ec1{:06x}", i + 1);
    let colons: Vec<&str> = (0..6).map(|k| &mac[2 * k..2 * k + 2]).collect();
    let ua = format!("Yealink SIP-T54W 96.86.0.100 {}", colons.join(":"));
    let f = node.server.get_https(&format!("/{mac}.cfg"), Some(&ua));
    (f.status == 200).then(|| f.text())
}

#[test]
fn a_node_killed_during_a_60000_user_import_leaves_the_other_serving() {
    let _heavy = crate::support::heavy();
    let Some(url) = fresh_database() else { return };
    let Some(pg) = postgres::server() else { return };
    let db = postgres::db_name(&url).to_string();
    const BEFORE: usize = 1_000;
    const BIG: usize = 60_000;
    let env = Env::new();
    let before_csv = env.file("before.csv", many_users(BEFORE, "Old"));
    let big_csv = env.file("big.csv", many_users(BIG, "New"));
    let r = env.import(&before_csv, &["--store", &url]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let token = create_token(&url, "ops");
    let (a, b) = (Node::start(&url), Node::start(&url));
    assert!(served(&b, 5).is_some_and(|t| t.contains("Old5")));

    // The big import through A, in the background; A dies while the
    // import's transaction is open in the database.
    let mut upload = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "--max-time", "300", "-X", "POST"])
        .args(["-H", &format!("Authorization: Bearer {token}")])
        .args(["--data-binary", &format!("@{}", big_csv.display())])
        .arg(format!("{}/api/v1/import", a.server.admin))
        .stderr(Stdio::null())
        .spawn()
        .expect("curl");
    let open_transaction = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = '{db}' \
         AND pid <> pg_backend_pid() AND xact_start < now() - interval '300 milliseconds'"
    );
    let applying = within(Duration::from_secs(240), || {
        pg.psql(&db, &open_transaction) != "0"
    });
    assert!(
        applying.is_some(),
        "A never began writing the import:\n{}",
        a.server.log()
    );
    let killed = Command::new("kill")
        .args(["-9", &a.server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(killed.success());
    let _ = upload.wait();

    // B still serves the state before, after the database rolled back.
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(b.probe("/readyz").0, 200);
    assert!(served(&b, 5).is_some_and(|t| t.contains("Old5")));
    assert!(
        served(&b, BIG - 1).is_none(),
        "part of the killed import is served"
    );

    // The import again, through B: it works, and both nodes (A restarted
    // on its data directory) serve the state after.
    let body = format!("@{}", big_csv.display());
    let again = api(
        &b.server,
        "POST",
        "/api/v1/import?format=json",
        Some(&token),
        &["--data-binary", &body],
    );
    assert_eq!(again.status, 200, "{}", again.text());
    assert_eq!(again.json()["summary"]["created"], BIG - BEFORE);
    drop(a);
    let a = Node::start(&url);
    for n in [&a, &b] {
        let after = within(Duration::from_secs(3), || {
            served(n, 5).is_some_and(|t| t.contains("New5")) && served(n, BIG - 1).is_some()
        });
        assert!(after.is_some(), "{}", n.server.log());
    }
}

/// `socat` forwarding `listen` to PostgreSQL's port, in a process group of
/// its own so one signal stops it and every connection it carries.
fn proxy(socat: &std::path::Path, listen: u16, to: u16) -> Child {
    Command::new(socat)
        .arg(format!("TCP-LISTEN:{listen},bind=127.0.0.1,fork,reuseaddr"))
        .arg(format!("TCP:127.0.0.1:{to}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("spawn socat")
}

fn stop_group(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-9", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
}

#[test]
fn readyz_follows_the_database_and_healthz_the_process() {
    let Some(url) = fresh_database() else { return };
    let Some(pg) = postgres::server() else { return };
    let Some(socat) = find_in(&["/usr/bin", "/bin"], "socat").or_else(|| unavailable("no socat"))
    else {
        return;
    };
    // The node reaches the database through a proxy the test can cut.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let mut cut = proxy(&socat, port, pg.port);
    let via = url.replace(&format!(":{}/", pg.port), &format!(":{port}/"));
    assert_ne!(via, url);
    let ready = |n: &Node| n.probe("/readyz").0 == 200;
    let Some(_) = within(Duration::from_secs(5), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    }) else {
        panic!("socat did not listen")
    };
    let env = Env::new();
    assert_eq!(env.import(&users_csv(), &["--store", &via]).code, 0);
    let n = Node::start(&via);
    assert_eq!(n.probe("/healthz"), (200, "ok\n".to_string()));
    assert_eq!(n.probe("/readyz"), (200, "ready\n".to_string()));

    stop_group(&mut cut);
    let down = within(Duration::from_secs(10), || !ready(&n));
    let (status, body) = n.probe("/readyz");
    assert!(down.is_some(), "still ready without the database");
    assert_eq!(status, 503);
    assert!(
        body.starts_with("not ready: ") && body.lines().count() == 1,
        "{body:?}"
    );
    assert!(
        !body.contains("postgres"),
        "no details in the body: {body:?}"
    );
    eprintln!("/readyz went 503 after {down:?}: {body:?}");
    assert_eq!(n.probe("/healthz").0, 200, "the process is still up");

    let mut back = proxy(&socat, port, pg.port);
    let up = within(Duration::from_secs(15), || ready(&n));
    assert!(up.is_some(), "not ready again:\n{}", n.server.log());
    eprintln!("/readyz back to 200 after {up:?}");
    stop_group(&mut back);
}

/// The line of a Yealink main file that carries the phone's own admin
/// password (docs/lockdown.md).
fn admin_password_line(text: &str) -> Option<String> {
    text.lines()
        .find(|l| l.starts_with("static.security.user_password = admin:"))
        .map(str::to_string)
}

/// Hans's Yealink (issued its passwords through node A) and Jürgen's (never
/// fetched anywhere before the cut), from `examples/users.csv`.
const HANS: (&str, &str) = (
    "/805ec0abcdef.cfg",
    "Yealink SIP-T46U 96.86.0.100 80:5e:c0:ab:cd:ef",
);
const JURGEN: (&str, &str) = (
    "/249ad888d0f4.cfg",
    "Yealink SIP-T34W 96.86.0.100 24:9a:d8:88:d0:f4",
);

/// A node cut off from the database keeps serving: a phone it served
/// before from the render cache, and a phone it never rendered whose web
/// passwords another node issued, from its read model (the fetch records
/// go to the background writer, so no request waits on the database). A
/// phone whose passwords were never issued is refused rather than given
/// passwords no other node knows, and is served once the database is back,
/// with the same passwords on both nodes.
#[test]
fn phones_are_served_while_the_database_is_down() {
    let Some(url) = fresh_database() else { return };
    let Some(pg) = postgres::server() else { return };
    let Some(socat) = find_in(&["/usr/bin", "/bin"], "socat").or_else(|| unavailable("no socat"))
    else {
        return;
    };
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        l.local_addr().expect("addr").port()
    };
    let mut cut = proxy(&socat, port, pg.port);
    let via = url.replace(&format!(":{}/", pg.port), &format!(":{port}/"));
    let _ = within(Duration::from_secs(5), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    let env = Env::new();
    assert_eq!(env.import(&users_csv(), &["--store", &via]).code, 0);
    let token = create_token(&url, "ops");
    // A on the database directly; N through the proxy the test cuts.
    let (a, n) = (Node::start(&url), Node::start(&via));
    let hans_on_a = a.server.get_https(HANS.0, Some(HANS.1));
    assert_eq!(hans_on_a.status, 200, "{}", a.server.log());
    let hans_pw = admin_password_line(&hans_on_a.text()).expect("issued through A");

    // An import after Hans's passwords were issued: once N serves it, N
    // has refreshed since, so its read model has them too.
    let csv = std::fs::read_to_string(users_csv()).expect("users.csv");
    let changed = env.file("changed.csv", csv.replace(",Dubois,", ",Dubois-Roy,"));
    assert_eq!(env.import(&changed, &["--store", &url]).code, 0);
    let lea = || {
        api(
            &n.server,
            "GET",
            "/api/v1/users/lea.dubois",
            Some(&token),
            &[],
        )
    };
    let refreshed = within(Duration::from_secs(10), || {
        lea().text().contains("Dubois-Roy")
    });
    assert!(
        refreshed.is_some(),
        "N never saw the import:\n{}",
        n.server.log()
    );

    let phone = format!("/{ALICE_MAC}.cfg");
    assert_eq!(n.server.get_https(&phone, Some(UA)).status, 200);
    stop_group(&mut cut);
    let down = within(Duration::from_secs(10), || n.probe("/readyz").0 == 503);
    assert!(down.is_some(), "N still ready without the database");

    // From the render cache.
    let during = n.server.get_https(&phone, Some(UA));
    assert_eq!(during.status, 200, "{}", n.server.log());
    // Never rendered on N: its passwords come from N's read model.
    let hans = n.server.get_https(HANS.0, Some(HANS.1));
    assert_eq!(hans.status, 200, "{}", n.server.log());
    assert_eq!(admin_password_line(&hans.text()), Some(hans_pw));
    // Never issued: refused, with nothing of a file.
    let jurgen = n.server.get_https(JURGEN.0, Some(JURGEN.1));
    assert!(jurgen.status >= 500, "{} {}", jurgen.status, jurgen.text());
    assert!(admin_password_line(&jurgen.text()).is_none());

    // Back: N issues Jürgen's passwords, and A serves the same ones.
    let mut back = proxy(&socat, port, pg.port);
    let up = within(Duration::from_secs(15), || n.probe("/readyz").0 == 200);
    assert!(up.is_some(), "not ready again:\n{}", n.server.log());
    let jurgen = n.server.get_https(JURGEN.0, Some(JURGEN.1));
    assert_eq!(jurgen.status, 200, "{}", n.server.log());
    let jurgen_pw = admin_password_line(&jurgen.text()).expect("issued through N");
    let on_a = a.server.get_https(JURGEN.0, Some(JURGEN.1));
    assert_eq!(admin_password_line(&on_a.text()), Some(jurgen_pw));
    stop_group(&mut back);
}
