//! `mandi delivery` and `mandi rider` against shipping in `mandi-server --target=all`: a
//! shopper lists the slots for their address and checks out into one; the paid order
//! becomes a shipment offered to the available rider, who accepts, picks it up, sets off
//! and delivers it with the code `mandi delivery track` shows the shopper, while that
//! command prints each update live and ends at DELIVERED with the order delivered too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use predicates::prelude::*;
use support::{ADMIN_EMAIL, Person, Shop, stderr, stdout};

/// How long a background command or an event-driven change may take.
const PATIENCE: Duration = Duration::from_secs(30);

/// A shopper with a default address in Bengaluru central (560001) and mangoes in the cart.
fn shopper<'a>(shop: &'a Shop) -> Person<'a> {
    let asha = shop.person("asha");
    asha.sign_up("asha@example.com");
    asha.mandi(&[
        "addresses",
        "add",
        "--line1",
        "12 MG Road",
        "--city",
        "Bengaluru",
        "--postal-code",
        "560001",
        "--recipient",
        "Asha Rao",
        "--phone",
        "+919812345678",
    ])
    .assert()
    .success();
    asha.mandi(&["cart", "add", "alphonso-mango", "2"])
        .assert()
        .success();
    asha
}

/// Registers Ravi as a rider in Bengaluru central (through the admin) and starts his shift
/// at the warehouse; returns his rider id.
fn rider_on_shift(admin: &Person<'_>, ravi: &Person<'_>) -> String {
    ravi.sign_up("ravi@example.com");
    let me = ravi.json(&["whoami"]);
    let user_id = me["id"].as_str().unwrap().to_owned();
    let rider = admin.json(&[
        "rider",
        "add",
        "--user",
        &user_id,
        "--name",
        "Ravi",
        "--phone",
        "+919800000001",
        "--zone",
        "blr-central",
    ]);
    assert_eq!(rider["user_id"], user_id.as_str());
    let rider_id = rider["id"].as_str().unwrap().to_owned();

    // The delivery role comes with a new session.
    ravi.login("ravi@example.com");
    ravi.mandi(&["rider", "status", "available", "--rider", &rider_id])
        .assert()
        .success()
        .stdout(predicate::str::contains("Ravi is available"));
    // Remembered with the session from now on.
    ravi.mandi(&["rider", "location", "12.9716", "77.5946"])
        .assert()
        .success()
        .stdout(predicate::str::contains("you are at 12.971600,77.594600"));
    rider_id
}

/// Polls `check` until it returns Some, for changes that travel through events.
fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The lines a background command prints, as they come.
fn lines_of(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().expect("piped stdout");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// Reads lines until one satisfies `wanted`; returns it with everything read before.
fn read_until(
    lines: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    wanted: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if wanted(&line) {
                    return line;
                }
            }
            Err(_) => panic!("the line never came; got so far:\n{}", seen.join("\n")),
        }
    }
}

#[test]
fn slots_for_an_address_then_a_rider_delivers_with_the_code_track_shows() {
    let shop = Shop::start();
    let admin = shop.person("admin");
    admin.sign_up(ADMIN_EMAIL);
    let warehouse = admin.add_warehouse("BLR-N");
    admin.receive("alphonso-mango", "10", &warehouse);
    let ravi = shop.person("ravi");
    let rider_id = rider_on_shift(&admin, &ravi);
    let asha = shopper(&shop);

    // Slots for the default address, from the profile service.
    let listed = asha
        .mandi(&["delivery", "slots", "--days", "2"])
        .assert()
        .success();
    let text = stdout(&listed);
    assert!(
        text.starts_with("delivery slots to Home (12 MG Road"),
        "{text}"
    );
    assert!(text.contains("WHEN") && text.contains("UTC"), "{text}");
    assert!(text.contains(" of 20") || text.contains(" of 15"), "{text}");
    let slots = asha.json(&["delivery", "slots", "--days", "2"]);
    let slot_id = slots["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["available"] == true)
        .and_then(|s| s["id"].as_str())
        .expect("an open slot")
        .to_owned();
    // An address inline needs no account; one outside every zone is named as such.
    shop.person("guest")
        .mandi(&["delivery", "slots", "--postal-code", "560001"])
        .assert()
        .success()
        .stdout(predicate::str::contains("delivery slots to 560001 IN"));
    let nowhere = asha
        .mandi(&["delivery", "slots", "--postal-code", "999999"])
        .assert()
        .code(5);
    assert!(
        stderr(&nowhere).contains("mandi does not deliver to this address"),
        "{}",
        stderr(&nowhere)
    );
    asha.mandi(&["delivery", "quote", "--weight", "2kg"])
        .assert()
        .success()
        .stdout(predicate::str::contains("fee"))
        .stdout(predicate::str::contains("₹"));

    // Checking out into the slot; payment makes the shipment, offered to Ravi.
    asha.mandi(&[
        "checkout",
        "--slot",
        &slot_id,
        "--card",
        "4242424242424242",
        "--exp",
        "12/39",
    ])
    .assert()
    .success();
    let orders = asha.json(&["orders", "list"]);
    let order_id = orders["orders"][0]["id"].as_str().unwrap().to_owned();
    let tracking_code = eventually("the shipment offered to Ravi", || {
        let mine = ravi.json(&["rider", "shipments"]);
        mine["shipments"][0]["tracking_code"]
            .as_str()
            .map(str::to_owned)
    });
    let work = ravi.mandi(&["rider", "shipments"]).assert().success();
    let text = stdout(&work);
    assert!(text.contains(&tracking_code), "{text}");
    assert!(text.contains("assigned: accept?"), "{text}");
    assert!(text.contains("12 MG Road"), "{text}");

    // The shopper follows it live, by order id.
    let mut track = asha.spawn(&["delivery", "track", &order_id]);
    let lines = lines_of(&mut track);
    let mut seen = Vec::new();
    let code_line = read_until(&lines, &mut seen, |l| l.starts_with("delivery code "));
    assert!(
        code_line.ends_with("tell this code to the rider at the door"),
        "{code_line}"
    );
    let code: String = code_line
        .trim_start_matches("delivery code ")
        .chars()
        .take(6)
        .collect();
    assert!(code.chars().all(|c| c.is_ascii_digit()), "{code_line}");
    assert!(
        seen.iter().any(|l| l.contains(&tracking_code)),
        "{}",
        seen.join("\n")
    );

    // Ravi accepts it, picks it up and sets off.
    ravi.mandi(&["rider", "accept", &tracking_code])
        .assert()
        .success()
        .stdout(predicate::str::contains("accepted"));
    ravi.mandi(&["rider", "pickup", &tracking_code])
        .assert()
        .success();
    read_until(&lines, &mut seen, |l| l.contains("picked up"));
    ravi.mandi(&[
        "rider",
        "out",
        &tracking_code,
        "--at",
        "12.9750,77.6000",
        "--eta",
        "30",
    ])
    .assert()
    .success();
    let out = read_until(&lines, &mut seen, |l| l.contains("out for delivery"));
    assert!(out.contains("rider Ravi"), "{out}");
    assert!(out.contains("at 12.975000,77.600000"), "{out}");
    assert!(out.contains("ETA "), "{out}");
    ravi.mandi(&["rider", "location", "12.9800", "77.6100"])
        .assert()
        .success();
    read_until(&lines, &mut seen, |l| l.contains("12.980000,77.610000"));

    // A wrong code is refused in plain words; the right one completes the delivery.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = ravi
        .mandi(&["rider", "deliver", &tracking_code, "--code", wrong])
        .assert()
        .code(5);
    assert!(
        stderr(&refused).contains("not the customer's delivery code"),
        "{}",
        stderr(&refused)
    );
    ravi.mandi(&["rider", "deliver", &tracking_code, "--code", &code])
        .assert()
        .success()
        .stdout(predicate::str::contains("delivered"));

    // The tracker prints DELIVERED and exits by itself.
    read_until(&lines, &mut seen, |l| l.contains("  delivered"));
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = track.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "track did not end at DELIVERED");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "track exited with {status}");

    // The order follows the shipment; the rider's list is empty again.
    eventually("the order delivered", || {
        let order = asha.json(&["orders", "get", &order_id]);
        (order["status"] == "ORDER_STATUS_DELIVERED").then_some(())
    });
    let open = ravi.json(&["rider", "shipments"]);
    assert!(
        open["shipments"].as_array().is_none_or(|s| s.is_empty()),
        "{open}"
    );
    let all = ravi.json(&["rider", "shipments", "--all"]);
    assert_eq!(all["shipments"][0]["status"], "SHIPMENT_STATUS_DELIVERED");
    assert_eq!(all["shipments"][0]["rider_id"], rider_id.as_str());
    // The rider never sees the customer's code.
    assert_eq!(all["shipments"][0]["delivery_code"], "");

    // Tracking a finished delivery prints where it ended and returns at once; in JSON one
    // stream message per line.
    let again = asha
        .mandi(&["-o", "json", "delivery", "track", &tracking_code])
        .timeout(PATIENCE)
        .assert()
        .success();
    let messages: Vec<serde_json::Value> = stdout(&again)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(messages.len(), 1, "{}", stdout(&again));
    assert_eq!(
        messages[0]["shipment"]["status"],
        "SHIPMENT_STATUS_DELIVERED"
    );
}

#[test]
fn rider_commands_say_what_is_missing() {
    let shop = Shop::start();
    let nobody = shop.person("nobody");
    nobody.sign_up("nobody@example.com");
    // No rider profile, no shipments: the rider id cannot be found.
    let unknown = nobody
        .mandi(&["rider", "status", "available"])
        .assert()
        .code(2);
    assert!(
        stderr(&unknown).contains("--rider <id>"),
        "{}",
        stderr(&unknown)
    );
    let bad = nobody
        .mandi(&["rider", "location", "123", "77.5"])
        .assert()
        .code(5);
    assert!(
        stderr(&bad).contains("latitude: must be between -90 and 90"),
        "{}",
        stderr(&bad)
    );
    let missing = nobody
        .mandi(&["delivery", "track", "MND-NOPE1"])
        .assert()
        .code(4);
    assert!(
        stderr(&missing).contains("mandi delivery list"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_turned_down_shipment_goes_to_another_rider_who_collects_the_cash() {
    let shop = Shop::start();
    let admin = shop.person("admin");
    admin.sign_up(ADMIN_EMAIL);
    let warehouse = admin.add_warehouse("BLR-N");
    admin.receive("alphonso-mango", "10", &warehouse);
    let ravi = shop.person("ravi");
    rider_on_shift(&admin, &ravi);
    let asha = shopper(&shop);
    asha.mandi(&["checkout", "--cod"]).assert().success();
    let tracking_code = eventually("the shipment offered to Ravi", || {
        let mine = ravi.json(&["rider", "shipments"]);
        mine["shipments"][0]["tracking_code"]
            .as_str()
            .map(str::to_owned)
    });

    // Ravi turns it down: nobody else is on shift, so it waits for an admin.
    ravi.mandi(&[
        "rider",
        "reject",
        &tracking_code,
        "--reason",
        "tyre puncture",
    ])
    .assert()
    .success()
    .stdout(predicate::str::contains("offered to another rider"));
    let pending = admin.json(&["delivery", "list", "--status", "pending"]);
    assert_eq!(
        pending["shipments"][0]["tracking_code"],
        tracking_code.as_str()
    );

    // Sita starts a shift; the admin assigns the nearest rider who can take it.
    let sita = shop.person("sita");
    sita.sign_up("sita@example.com");
    let user_id = sita.json(&["whoami"])["id"].as_str().unwrap().to_owned();
    let rider = admin.json(&[
        "rider",
        "add",
        "--user",
        &user_id,
        "--name",
        "Sita",
        "--phone",
        "+919800000002",
        "--zone",
        "blr-central",
        "--vehicle",
        "bicycle",
    ]);
    let sita_id = rider["id"].as_str().unwrap().to_owned();
    sita.login("sita@example.com");
    sita.mandi(&["rider", "status", "available", "--rider", &sita_id])
        .assert()
        .success();
    admin
        .mandi(&["delivery", "assign", &tracking_code])
        .assert()
        .success()
        .stdout(predicate::str::contains("to Sita"));

    // Sita's list says how much cash to collect.
    let work = sita.mandi(&["rider", "shipments"]).assert().success();
    let text = stdout(&work);
    assert!(text.contains("collect ₹"), "{text}");
    let due = sita.json(&["rider", "shipments"])["shipments"][0]["cash_to_collect"]["amount_minor"]
        .as_i64()
        .unwrap();
    assert!(due > 0);

    // The shopper follows it; Ctrl-C (SIGINT) ends the tracker cleanly.
    let mut track = asha.spawn(&["delivery", "track", &tracking_code]);
    let lines = lines_of(&mut track);
    let mut seen = Vec::new();
    let code_line = read_until(&lines, &mut seen, |l| l.starts_with("delivery code "));
    let code: String = code_line
        .trim_start_matches("delivery code ")
        .chars()
        .take(6)
        .collect();
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &track.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let output = track.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "track after Ctrl-C: {}",
        output.status
    );
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("stopped following"), "{said}");

    // A reader that stops reading (`| head -3`) ends the tracker quietly too.
    let mut head = asha.spawn(&["delivery", "track", &tracking_code]);
    let head_lines = lines_of(&mut head);
    read_until(&head_lines, &mut Vec::new(), |l| {
        l.starts_with("delivery code ")
    });
    drop(head_lines);

    sita.mandi(&["rider", "accept", &tracking_code])
        .assert()
        .success();
    // Out of order: not picked up yet.
    let early = sita
        .mandi(&["rider", "out", &tracking_code])
        .assert()
        .code(5);
    assert!(
        stderr(&early).contains("cannot move there from where it is now"),
        "{}",
        stderr(&early)
    );
    for step in ["pickup", "out"] {
        sita.mandi(&["rider", step, &tracking_code])
            .assert()
            .success();
    }
    let deadline = Instant::now() + PATIENCE;
    let ended = loop {
        if let Some(status) = head.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "track kept writing to a closed pipe"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut said = String::new();
    std::io::Read::read_to_string(&mut head.stderr.take().unwrap(), &mut said).unwrap();
    assert!(ended.success(), "track on a closed pipe: {ended}: {said}");

    // Nobody home the first time; out again later.
    sita.mandi(&["rider", "fail", &tracking_code, "--note", "nobody home"])
        .assert()
        .success()
        .stdout(predicate::str::contains("delivery failed"));
    sita.mandi(&["rider", "out", &tracking_code])
        .assert()
        .success();
    // Forgetting the cash is caught before anything is sent; a wrong amount is refused.
    let forgot = sita
        .mandi(&["rider", "deliver", &tracking_code, "--code", &code])
        .assert()
        .code(5);
    assert!(
        stderr(&forgot).contains("pass --cash with the amount"),
        "{}",
        stderr(&forgot)
    );
    let short = sita
        .mandi(&[
            "rider",
            "deliver",
            &tracking_code,
            "--code",
            &code,
            "--cash",
            "1",
        ])
        .assert()
        .code(5);
    assert!(
        stderr(&short).contains("not what the customer owes"),
        "{}",
        stderr(&short)
    );
    let cash = format!("{}.{:02}", due / 100, due % 100);
    let delivered = sita.json(&[
        "rider",
        "deliver",
        &tracking_code,
        "--code",
        &code,
        "--cash",
        &cash,
    ]);
    assert_eq!(delivered["status"], "SHIPMENT_STATUS_DELIVERED");
    assert_eq!(delivered["rider_display_name"], "Sita");
}

/// A TCP relay in front of the server whose open connections can be cut, as when a
/// network drops: new connections still get through.
struct Relay {
    port: u16,
    open: std::sync::Arc<std::sync::Mutex<Vec<std::net::TcpStream>>>,
}

impl Relay {
    fn start(upstream: String) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let conns = open.clone();
        let target = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(server) = std::net::TcpStream::connect(&target) else {
                    continue;
                };
                let mut guard = conns.lock().unwrap();
                guard.push(client.try_clone().unwrap());
                guard.push(server.try_clone().unwrap());
                drop(guard);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        Self { port, open }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Drops every connection open now.
    fn cut(&self) {
        for conn in self.open.lock().unwrap().drain(..) {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
    }
}

#[test]
fn delivery_track_reconnects_when_the_connection_drops_and_prints_nothing_twice() {
    let shop = Shop::start();
    let admin = shop.person("admin");
    admin.sign_up(ADMIN_EMAIL);
    let warehouse = admin.add_warehouse("BLR-N");
    admin.receive("alphonso-mango", "10", &warehouse);
    let ravi = shop.person("ravi");
    rider_on_shift(&admin, &ravi);
    let asha = shopper(&shop);
    asha.mandi(&["checkout", "--card", "4242424242424242", "--exp", "12/39"])
        .assert()
        .success();
    let tracking_code = eventually("the shipment offered to Ravi", || {
        ravi.json(&["rider", "shipments"])["shipments"][0]["tracking_code"]
            .as_str()
            .map(str::to_owned)
    });

    let relay = Relay::start(shop.server.url());
    let mut track = asha.spawn(&[
        "--endpoint",
        &relay.url(),
        "delivery",
        "track",
        &tracking_code,
    ]);
    let lines = lines_of(&mut track);
    let mut seen = Vec::new();
    let code_line = read_until(&lines, &mut seen, |l| l.starts_with("delivery code "));
    let code: String = code_line
        .trim_start_matches("delivery code ")
        .chars()
        .take(6)
        .collect();
    read_until(&lines, &mut seen, |l| l.contains("  assigned"));

    relay.cut();
    ravi.mandi(&["rider", "accept", &tracking_code])
        .assert()
        .success();
    ravi.mandi(&["rider", "pickup", &tracking_code])
        .assert()
        .success();
    read_until(&lines, &mut seen, |l| l.contains("  picked up"));
    relay.cut();
    ravi.mandi(&["rider", "out", &tracking_code])
        .assert()
        .success();
    ravi.mandi(&["rider", "deliver", &tracking_code, "--code", &code])
        .assert()
        .success();
    read_until(&lines, &mut seen, |l| l.contains("  delivered"));
    let output = track.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "track exited with {}: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for once in [
        "  assigned",
        "  picked up",
        "  out for delivery",
        "  delivered",
        "delivery code",
    ] {
        let count = seen.iter().filter(|l| l.contains(once)).count();
        assert_eq!(
            count,
            1,
            "{once:?} printed {count} times:\n{}",
            seen.join("\n")
        );
    }
}
