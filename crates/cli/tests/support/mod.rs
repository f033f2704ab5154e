//! A running `mandi-server --target=all` and the `mandi` binary pointed at it, with a
//! config file of its own per test and per person in it.
#![allow(dead_code)]

use std::path::PathBuf;

use assert_cmd::Command;
use mandi_testkit::ServerProcess;
use tempfile::TempDir;

/// The server's admin: the first account registered with this email becomes admin.
pub const ADMIN_EMAIL: &str = "root@mandi.example";
/// The password every test account gets.
pub const PASSWORD: &str = "correct horse";

/// One server and the config directories of the people using it.
pub struct Shop {
    pub server: ServerProcess,
    pub dir: TempDir,
}

/// Someone at a terminal: `mandi` with their own config file.
pub struct Person<'a> {
    shop: &'a Shop,
    name: &'static str,
}

impl Shop {
    /// Starts the embedded mesh (demo catalog included).
    pub fn start() -> Self {
        let server = ServerProcess::start(
            "all",
            &[
                ("MANDI_IDENTITY__ADMIN_EMAILS", ADMIN_EMAIL),
                // Cheap hashing: these tests are about the CLI, not argon2's cost.
                ("MANDI_IDENTITY__ARGON2_MEMORY_KIB", "1024"),
            ],
        );
        Self {
            server,
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// Another person with a config file of their own.
    pub fn person(&self, name: &'static str) -> Person<'_> {
        Person { shop: self, name }
    }

    fn me(&self) -> Person<'_> {
        self.person("me")
    }

    pub fn config_path(&self) -> PathBuf {
        self.me().config_path()
    }

    pub fn mandi(&self, args: &[&str]) -> Command {
        self.me().mandi(args)
    }

    pub fn sign_up(&self, email: &str) {
        self.me().sign_up(email)
    }

    pub fn login(&self, email: &str) -> String {
        self.me().login(email)
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        self.me().json(args)
    }
}

impl Person<'_> {
    /// This person's config file.
    pub fn config_path(&self) -> PathBuf {
        self.shop
            .dir
            .path()
            .join(self.name)
            .join("mandi")
            .join("config.toml")
    }

    /// `mandi <args>` against the shop's server with this person's config file and
    /// nothing from the environment of whoever runs the tests.
    pub fn mandi(&self, args: &[&str]) -> Command {
        let mut command = Command::cargo_bin("mandi").expect("the mandi binary is built");
        command
            .args(args)
            .env("MANDI_ENDPOINT", self.shop.server.url())
            .env("MANDI_CONFIG", self.config_path())
            .env_remove("MANDI_TOKEN")
            .env_remove("MANDI_PASSWORD");
        command
    }

    /// `mandi <args>` started in the background like [`Person::mandi`], its stdout piped,
    /// for commands that keep running (`delivery track`).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        std::process::Command::new(env!("CARGO_BIN_EXE_mandi"))
            .args(args)
            .env("MANDI_ENDPOINT", self.shop.server.url())
            .env("MANDI_CONFIG", self.config_path())
            .env_remove("MANDI_TOKEN")
            .env_remove("MANDI_PASSWORD")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the mandi binary starts")
    }

    /// Registers `email` and logs in with [`PASSWORD`].
    pub fn sign_up(&self, email: &str) {
        self.mandi(&[
            "register",
            "--name",
            "Test User",
            "--email",
            email,
            "--password-stdin",
        ])
        .write_stdin(format!("{PASSWORD}\n"))
        .assert()
        .success();
        self.login(email);
    }

    /// Logs in with [`PASSWORD`]; returns what `mandi login` printed.
    pub fn login(&self, email: &str) -> String {
        let output = self
            .mandi(&["login", "--email", email, "--password-stdin"])
            .write_stdin(format!("{PASSWORD}\n"))
            .assert()
            .success();
        stdout(&output)
    }

    /// The stdout of a successful `mandi -o json <args>`, parsed.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let output = self.mandi(&all).assert().success();
        serde_json::from_str(&stdout(&output)).unwrap_or_else(|e| {
            panic!("mandi {args:?} printed no JSON ({e}):\n{}", stdout(&output))
        })
    }
}

impl Person<'_> {
    /// Adds a warehouse in Bengaluru (as an admin) and returns its id.
    pub fn add_warehouse(&self, code: &str) -> String {
        let warehouse = self.json(&[
            "inventory",
            "warehouses",
            "add",
            "--code",
            code,
            "--name",
            "Bengaluru North",
            "--line1",
            "1 Market Road",
            "--city",
            "Bengaluru",
            "--postal-code",
            "560001",
        ]);
        warehouse["id"].as_str().expect("a warehouse id").to_owned()
    }

    /// Receives `quantity` of `product` into `warehouse`, expiring in a week; returns
    /// what `mandi inventory receive` printed.
    pub fn receive(&self, product: &str, quantity: &str, warehouse: &str) -> String {
        let received = self
            .mandi(&[
                "inventory",
                "receive",
                product,
                quantity,
                "--warehouse",
                warehouse,
                "--expires",
                "7d",
                "--supplier",
                "FARM-7",
            ])
            .assert()
            .success();
        stdout(&received)
    }
}

pub fn stdout(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stdout).into_owned()
}

pub fn stderr(assert: &assert_cmd::assert::Assert) -> String {
    String::from_utf8_lossy(&assert.get_output().stderr).into_owned()
}
