//! The committed man pages (`man/*.1`) are what the clap definitions
//! generate. After changing an option: `SK_UPDATE_MAN=1 cargo test --test man`.

use std::path::Path;

#[test]
fn man_pages_are_up_to_date() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("man");
    let pages = sk_boundary::cli::man::pages().unwrap();
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"sk-doctor.1") && names.contains(&"sk-migrate.1"));
    if std::env::var_os("SK_UPDATE_MAN").is_some_and(|v| !v.is_empty()) {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "1") {
                std::fs::remove_file(path).unwrap();
            }
        }
        for (name, text) in &pages {
            std::fs::write(dir.join(name), text).unwrap();
        }
        return;
    }
    let mut stale = Vec::new();
    for (name, text) in &pages {
        if std::fs::read(dir.join(name)).ok().as_ref() != Some(text) {
            stale.push(name.clone());
        }
    }
    let mut committed: Vec<String> = std::fs::read_dir(&dir)
        .map(|d| {
            d.filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| n.ends_with(".1"))
                .collect()
        })
        .unwrap_or_default();
    committed.retain(|n| !names.contains(&n.as_str()));
    assert!(
        stale.is_empty() && committed.is_empty(),
        "man pages out of date: {stale:?}, no longer generated: {committed:?}; \
         run `SK_UPDATE_MAN=1 cargo test --test man` and commit man/"
    );
}
