//! `ovnflow compile` end to end: output format, inputs, and errors.

use std::process::Command;

fn ovnflow(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_ovnflow"))
        .args(args)
        .output()
        .expect("run ovnflow");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bundled_example_prints_lflow_list_of_both_switches() {
    let (code, out, err) = ovnflow(&["compile"]);
    assert_eq!(code, 0, "{err}");
    let headers: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("Datapath: "))
        .collect();
    assert_eq!(headers.len(), 4, "{headers:?}");
    assert!(
        headers[0].starts_with("Datapath: \"sw0\" (")
            && headers[0].ends_with(")  Pipeline: ingress")
    );
    assert!(
        headers[3].starts_with("Datapath: \"sw1\" (")
            && headers[3].ends_with(")  Pipeline: egress")
    );
    assert!(out.contains(
        "  table=25(ls_in_l2_lkup      ), priority=50   , match=(eth.dst == 00:00:00:00:00:01), action=(outport = \"sw0-p1\"; output;)\n"
    ));
    assert!(out.contains(
        "  table=9 (ls_out_apply_port_sec), priority=0    , match=(1), action=(output;)\n"
    ));
}

#[test]
fn json_format_lists_sb_tables() {
    let (code, out, _) = ovnflow(&["compile", "--format", "json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["Datapath_Binding"].as_object().map(|o| o.len()), Some(2));
    assert_eq!(v["Port_Binding"].as_object().map(|o| o.len()), Some(3));
}

#[test]
fn more_workers_give_the_same_output() {
    assert_eq!(
        ovnflow(&["compile"]).1,
        ovnflow(&["compile", "--workers", "3"]).1
    );
}

#[test]
fn bad_rows_are_reported_with_file_table_row_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("bad.json");
    std::fs::write(
        &f,
        r#"["OVN_Northbound",{"op":"insert","table":"Logical_Switch","uuid":"5a000001-0000-4000-8000-000000000001","row":{"name":5}}]"#,
    )
    .expect("write");
    let (code, _, err) = ovnflow(&["compile", f.to_str().expect("path")]);
    assert_ne!(code, 0);
    assert!(err.contains("bad.json"), "{err}");
    assert!(
        err.contains("table Logical_Switch") && err.contains("column name"),
        "{err}"
    );
}

#[test]
fn bad_db_file_rows_name_table_row_and_column() {
    let dir = tempfile::tempdir().expect("tempdir");
    let f = dir.path().join("nb.db");
    let schema = r#"{"name":"OVN_Northbound","version":"7.0.0","tables":{"Logical_Switch":{"columns":{"name":{"type":"string"}}}}}"#;
    let txn = r#"{"Logical_Switch":{"5a000001-0000-4000-8000-000000000001":{"name":7}}}"#;
    let record = |json: &str| {
        let sha1 = sha1_smol::Sha1::from(json.as_bytes()).digest();
        format!("OVSDB JSON {} {sha1}\n{json}\n", json.len())
    };
    std::fs::write(&f, record(schema) + &record(txn)).expect("write");
    let (code, _, err) = ovnflow(&["compile", f.to_str().expect("path")]);
    assert_ne!(code, 0);
    assert!(err.contains("nb.db"), "{err}");
    assert!(
        err.contains("table Logical_Switch row 5a000001-0000-4000-8000-000000000001 column name"),
        "{err}"
    );
}

#[test]
fn missing_file_and_remotes_fail_clearly() {
    let (code, _, err) = ovnflow(&["compile", "/nonexistent/nb.db"]);
    assert_ne!(code, 0);
    assert!(err.contains("/nonexistent/nb.db"), "{err}");
    let (code, _, err) = ovnflow(&["compile", "unix:/nonexistent.sock"]);
    assert_ne!(code, 0);
    assert!(err.contains("unix:/nonexistent.sock"), "{err}");
}

/// A live NB (a private ovsdb-server) compiles to the same flows as its
/// `.db` file when the history is a single transaction.
#[test]
fn live_remote_compiles_like_its_db_file() {
    use std::process::Command;
    if Command::new("ovsdb-server")
        .arg("--version")
        .output()
        .is_err()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have OVN installed"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let db = d.join("nb.db");
    let schema = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../ovsdb/schemas/ovn-nb.ovsschema"
    );
    assert!(Command::new("ovsdb-tool")
        .arg("create")
        .arg(&db)
        .arg(schema)
        .status()
        .unwrap()
        .success());
    let sock = d.join("nb.sock");
    assert!(Command::new("ovsdb-server")
        .args(["--detach", "--no-chdir"])
        .arg(format!("--pidfile={}", d.join("nb.pid").display()))
        .arg(format!("--unixctl={}", d.join("nb.ctl").display()))
        .arg(format!("--log-file={}", d.join("nb.log").display()))
        .arg(format!("--remote=punix:{}", sock.display()))
        .arg(&db)
        .status()
        .unwrap()
        .success());
    let pid = std::fs::read_to_string(d.join("nb.pid")).unwrap();
    let remote = format!("unix:{}", sock.display());
    let ok = Command::new("ovn-nbctl")
        .arg(format!("--db={remote}"))
        .args([
            "ls-add",
            "sw0",
            "--",
            "lsp-add",
            "sw0",
            "p1",
            "--",
            "lsp-set-addresses",
            "p1",
            "00:00:00:00:00:01 10.0.0.1",
        ])
        .status()
        .unwrap()
        .success();
    let (code, live, err) = ovnflow(&["compile", &remote]);
    let _ = Command::new("kill").arg(pid.trim()).status();
    assert!(ok);
    assert_eq!(code, 0, "{err}");
    let (code, file, err) = ovnflow(&["compile", db.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    assert!(live.lines().count() > 50);
    assert_eq!(live, file);
}

#[test]
fn diff_against_reports_per_section_and_fails_on_differences() {
    let corpus = concat!(env!("CARGO_MANIFEST_DIR"), "/../../golden/corpus");
    let nb = format!("{corpus}/acls/nb.db");
    // Against what real northd wrote for the same NB: identical.
    for file in ["sb.txt", "lflow-list.txt"] {
        let against = format!("{corpus}/acls/{file}");
        let (code, out, err) = ovnflow(&["compile", &nb, "--diff-against", &against]);
        assert_eq!(code, 0, "{file}: {err}");
        assert!(!out.contains("DIFFERS"), "{out}");
        assert!(out.contains("identical"), "{out}");
    }
    // Against another topology's SB: per-stage differences and a failure.
    let other = format!("{corpus}/dhcp/sb.txt");
    let (code, out, err) = ovnflow(&["compile", &nb, "--diff-against", &other]);
    assert_ne!(code, 0);
    assert!(
        out.contains("Logical_Flow ls_in_dhcp_options") && out.contains("DIFFERS"),
        "{out}"
    );
    assert!(out.contains("MISSING") && out.contains("EXTRA"), "{out}");
    assert!(err.contains("rows missing"), "{err}");
}
