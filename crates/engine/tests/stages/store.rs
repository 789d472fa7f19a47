//! The store: commits, unpacked copies restored from bundles, corruption found, fsck.

use std::io::{Seek, SeekFrom, Write};

use cpbuild_engine::DirtyReason;
use cpbuild_engine::events::Event;
use cpbuild_engine::plan::ItemState;
use cpbuild_engine::store::BundleState;

use crate::support::chain;

/// Flips one byte in the middle of `path`.
fn flip_a_byte(path: &std::path::Path) {
    let length = std::fs::metadata(path).unwrap().len();
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let at = length / 2;
    let mut byte = [0u8];
    file.seek(SeekFrom::Start(at)).unwrap();
    std::io::Read::read_exact(&mut file, &mut byte).unwrap();
    file.seek(SeekFrom::Start(at)).unwrap();
    file.write_all(&[byte[0] ^ 0x40]).unwrap();
}

#[test]
fn a_commit_holds_the_files_and_the_manifest() {
    let project = chain();
    let store = project.store();
    let key = project.key("a");
    assert_eq!(store.state(&key), BundleState::Valid);
    let manifest = store.bundle_manifest(&key).unwrap();
    assert_eq!(manifest.key, key);
    assert_eq!(manifest.fingerprint.target, "a");
    assert_eq!(manifest.files["out.txt"].size, "a".len() as u64);
    assert_eq!(project.output("a"), "a");
}

#[test]
fn a_deleted_unpacked_copy_is_restored_from_the_bundle() {
    let project = chain();
    let store = project.store();
    let key = project.key("a");
    std::fs::remove_dir_all(store.unpacked_path(&key)).unwrap();
    let (directory, _, damage) = store.verified_unpacked(&key).unwrap();
    assert!(damage.is_none());
    assert_eq!(
        std::fs::read_to_string(directory.join("files/out.txt")).unwrap(),
        "a"
    );
}

#[test]
fn a_tampered_unpacked_copy_is_replaced_and_reported() {
    let project = chain();
    let store = project.store();
    let key = project.key("a");
    std::fs::write(store.unpacked_path(&key).join("files/out.txt"), "tampered").unwrap();
    let (directory, _, damage) = store.verified_unpacked(&key).unwrap();
    let damage = damage.expect("the damage is reported");
    assert!(damage.contains("out.txt"), "{damage}");
    assert_eq!(
        std::fs::read_to_string(directory.join("files/out.txt")).unwrap(),
        "a"
    );
}

#[test]
fn a_corrupt_bundle_is_detected_and_rebuilt() {
    let project = chain();
    let store = project.store();
    let key = project.key("a");
    flip_a_byte(&store.bundle_path(&key));
    assert!(
        matches!(store.rehash(&key), BundleState::Corrupt(_)),
        "{:?}",
        store.rehash(&key)
    );
    let graph = project.graph();
    let plan = project.plan(&graph, &["b"], false);
    let a = plan.item(graph.by_name["a"]).unwrap();
    assert!(
        matches!(&a.state, ItemState::Dirty(reasons) if matches!(reasons[..], [DirtyReason::BundleCorrupt { .. }])),
        "{:?}",
        a.state
    );
    let rebuilt = project.build(&["a"]);
    assert_eq!(rebuilt.ran, ["a"], "{:?}", rebuilt.events);
    assert!(
        rebuilt
            .events
            .iter()
            .any(|event| matches!(event, Event::Corrupt { target, .. } if target == "a")),
        "{:?}",
        rebuilt.events
    );
    // The rebuilt bundle has the same key and bytes, so `b` above it stays fresh.
    assert!(project.build(&["b"]).ran.is_empty());
    assert_eq!(project.store().rehash(&key), BundleState::Valid);
}

#[test]
fn fsck_moves_a_corrupt_bundle_aside_and_names_its_target() {
    let project = chain();
    let store = project.store();
    let (a, b) = (project.key("a"), project.key("b"));
    flip_a_byte(&store.bundle_path(&a));
    let report = store.fsck().unwrap();
    assert_eq!(report.bundles, 4);
    assert_eq!(report.damage.len(), 1, "{:?}", report.damage);
    let damage = &report.damage[0];
    assert_eq!(damage.key, a);
    assert_eq!(damage.target.as_deref(), Some("a"));
    assert!(damage.bundle);
    assert!(damage.moved_to.exists());
    assert_eq!(store.state(&a), BundleState::Missing);
    assert_eq!(store.state(&b), BundleState::Valid);
    assert!(
        store.fsck().unwrap().damage.is_empty(),
        "a second fsck is clean"
    );
}
