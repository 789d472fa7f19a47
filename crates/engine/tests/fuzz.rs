//! Bounded fuzzing of the three readers that take bytes from outside: the recipe loader and
//! expander, the bundle reader and the archive reader. A fixed-seed generator mutates valid
//! inputs (bit flips, byte changes, truncations, insertions, appended data), so every run tries
//! the same cases; none may panic, and every change to an archive must be reported.

use std::collections::BTreeMap;
use std::path::Path;

use cpbuild_engine::Fingerprint;
use cpbuild_engine::archive::{self, ArchiveManifest, Mode};
use cpbuild_engine::recipe::Recipes;
use cpbuild_engine::recipe::source::SourceFile;
use cpbuild_engine::store::Store;
use cpbuild_engine::store::bundle;
use cpbuild_engine::store::{Machine, Manifest};

/// The recipe text the root package's tests write too (profile blocks, grid heads).
#[path = "../../../tests/common/recipe.rs"]
#[allow(dead_code)]
mod recipe_text;

use recipe_text::{grid, profiles};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One random change to `bytes`.
fn mutate(rng: &mut Rng, bytes: &[u8], tokens: &[&[u8]]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    let at = rng.below(out.len());
    match rng.below(6) {
        0 if !out.is_empty() => out[at] ^= 1 << rng.below(8),
        1 if !out.is_empty() => out[at] = rng.next() as u8,
        2 => out.truncate(at),
        3 => {
            let token = tokens[rng.below(tokens.len())];
            out.splice(at..at, token.iter().copied());
        }
        4 if out.len() > 1 => {
            let end = (at + 1 + rng.below(16)).min(out.len());
            out.drain(at..end);
        }
        _ => out.extend((0..1 + rng.below(8)).map(|_| rng.next() as u8)),
    }
    out
}

/// The seed recipe: a profile, a plain target, a grid over a profile variable, a gatherer.
fn recipe() -> String {
    let profiles = profiles(&[("ci", &["n = 3", r#"word = "x""#])]);
    let grid = grid(
        "grid",
        "g_{k}_{w}",
        r#"{ k = { from = 1, to = "${n}", step = 1 }, w = ["p", "q"] }"#,
    );
    format!(
        "{}{profiles}{}{grid}{}",
        r#"
project = "fuzz"
default = ["b"]

"#,
        r#"
[target.a]
kind = "shell"
inputs = ["in.txt"]
command = "cp in.txt a.txt"
outputs = ["a.txt"]

"#,
        r#"kind = "shell"
deps = ["a"]
params = { k = "{k}", label = "${word}-{w}" }
command = "echo {k} > g.txt"
outputs = ["g.txt"]

[target.b]
kind = "shell"
deps = ["grid"]
command = "true"
"#
    )
}

const RECIPE_TOKENS: &[&[u8]] = &[
    b"${",
    b"{k}",
    b"}",
    b"\"",
    b"[",
    b"]",
    b"\n[target.x]\n",
    b"foreach = { z = { from = -9223372036854775808, to = 9223372036854775807 } }",
    b"= ",
    b"\xff",
    b"\\u{0}",
    b"${n}",
    b"deps = [\"b\"]",
    b"9223372036854775807",
    b"-1",
    b"step = 0",
    b"\xc3\xa9",
];

#[test]
fn no_recipe_text_makes_the_loader_or_the_expander_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    let cases = 4000;
    let recipe = recipe();
    let mut current = recipe.as_bytes().to_vec();
    for case in 0..cases {
        // Mostly one mutation of the valid recipe; sometimes a few stacked.
        if case % 4 == 0 {
            current = recipe.as_bytes().to_vec();
        }
        current = mutate(&mut rng, &current, RECIPE_TOKENS);
        let Ok(text) = String::from_utf8(current.clone()) else {
            continue;
        };
        let file = SourceFile::new("recipes/main.toml".into(), text);
        if let Ok(recipes) = Recipes::from_files(vec![file])
            && cpbuild_engine::recipe::expand::expand(&recipes, "ci", &Default::default()).is_ok()
        {
            accepted += 1;
        }
    }
    eprintln!("recipe loader: {cases} mutated recipes, {accepted} still valid, no panic");
    assert!(accepted > 0 && accepted < cases);
}

fn manifest_for(files: &Path) -> Manifest {
    let scanned = bundle::scan_files(files).expect("files scan");
    Manifest {
        format: 1,
        key: "0".repeat(64),
        fingerprint: Fingerprint {
            cpbuild: "0".into(),
            target: "a".into(),
            kind: "shell".into(),
            action_version: "1".into(),
            context: serde_json::Value::Null,
            params: serde_json::json!({"command": "true"}),
            deps: BTreeMap::new(),
            inputs: BTreeMap::new(),
        },
        machine: Machine {
            os: "linux".into(),
            arch: "x86_64".into(),
            cpu: "test".into(),
        },
        info: BTreeMap::new(),
        files: scanned,
        worktree: vec!["a.txt".into()],
    }
}

#[test]
fn no_damaged_bundle_makes_the_reader_panic_or_yield_wrong_content() {
    let dir = tempfile::tempdir().unwrap();
    let files = dir.path().join("files");
    std::fs::create_dir_all(files.join("sub")).unwrap();
    std::fs::write(files.join("a.txt"), "hello\n".repeat(50)).unwrap();
    std::fs::write(
        files.join("sub/b.bin"),
        (0..3000u32).map(|i| (i * 7) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let manifest = manifest_for(&files);
    let good_path = dir.path().join("good.tar.zst");
    bundle::write(&manifest, &files, &Default::default(), &good_path).unwrap();
    let good = std::fs::read(&good_path).unwrap();
    let mut rng = Rng(0x0123_4567_89ab_cdef);
    let bad_path = dir.path().join("bad.tar.zst");
    let cases = 1500;
    let mut rejected = 0;
    for case in 0..cases {
        let bytes = mutate(
            &mut rng,
            &good,
            &[b"\0\0\0\0", b"files/../x", b"\x28\xb5\x2f\xfd"],
        );
        std::fs::write(&bad_path, &bytes).unwrap();
        let _ = bundle::read_manifest(&bad_path);
        let out = dir.path().join(format!("out{case}"));
        match bundle::unpack(&bad_path, &out) {
            // Whatever was accepted is exactly what the manifest lists.
            Ok(read) => {
                assert_eq!(read.files, manifest.files, "case {case}");
                bundle::check_files(&out.join("files"), &read.files).unwrap();
            }
            Err(_) => rejected += 1,
        }
        let _ = cpbuild_engine::util::fs::remove_tree(&out);
    }
    eprintln!(
        "bundle reader: {cases} damaged bundles, {rejected} rejected, the rest read exactly, no panic"
    );
    assert!(rejected > cases / 2);
}

/// A small real archive, written by `archive::write` from an empty store.
fn small_archive(dir: &Path) -> Vec<u8> {
    let store = Store::open(&dir.join("store")).unwrap();
    std::fs::write(dir.join("main.toml"), recipe()).unwrap();
    let manifest = ArchiveManifest {
        format: archive::FORMAT,
        project: "fuzz".into(),
        version: "1.0.0".into(),
        cpbuild: "0".into(),
        profile: "ci".into(),
        mode: Mode::Full,
        requested: Vec::new(),
        targets: BTreeMap::new(),
        files: BTreeMap::new(),
        root_hash: String::new(),
    };
    let destination = dir.join("good.tar.zst");
    archive::write(
        archive::Request {
            manifest,
            store: &store,
            recipes: [("recipes/main.toml".to_string(), dir.join("main.toml"))].into(),
            documents: Vec::new(),
            context: archive::Context {
                registry: &cpbuild_engine::action::Registry::builtin(),
                checklist: "",
            },
        },
        &destination,
    )
    .unwrap();
    archive::verify(&destination).expect("the good archive verifies");
    std::fs::read(&destination).unwrap()
}

#[test]
fn every_flipped_bit_truncation_and_appended_byte_of_an_archive_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let good = small_archive(dir.path());
    let bad = dir.path().join("bad.tar.zst");
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    let mut tried = 0usize;
    let mut check = |bytes: &[u8], what: &str| {
        std::fs::write(&bad, bytes).unwrap();
        assert!(archive::verify(&bad).is_err(), "{what} was not reported");
        tried += 1;
    };
    // One flipped bit in every byte. A flip is reported unless it changes nothing that is read:
    // zstd's entropy tables may describe symbols that never occur, and a flip there decodes to
    // the very same content (checked here byte for byte).
    let content = decompressed(&good).expect("the good archive decodes");
    let mut flips = 0usize;
    let mut harmless = 0usize;
    for at in 0..good.len() {
        let mut bytes = good.clone();
        bytes[at] ^= 1 << rng.below(8);
        std::fs::write(&bad, &bytes).unwrap();
        flips += 1;
        if archive::verify(&bad).is_ok() {
            assert_eq!(
                decompressed(&bytes).as_deref(),
                Some(content.as_slice()),
                "a flip at byte {at} changed the content and was not reported"
            );
            harmless += 1;
        }
    }
    // Every truncation.
    for length in 0..good.len() {
        check(&good[..length], &format!("a cut to {length} bytes"));
    }
    // Appended data: random, zeros, a skippable frame, a second copy.
    for n in 1..=64 {
        let extra: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        check(&[good.as_slice(), &extra].concat(), "appended bytes");
        check(&[good.as_slice(), &vec![0; n]].concat(), "appended zeros");
    }
    check(
        &[good.as_slice(), &[0x50, 0x2a, 0x4d, 0x18, 0, 0, 0, 0]].concat(),
        "an appended skippable frame",
    );
    check(
        &[good.as_slice(), good.as_slice()].concat(),
        "a second copy",
    );
    eprintln!(
        "archive reader: {flips} single-bit flips ({} reported, {harmless} decode to identical content), {tried} truncations and appendings (all reported)",
        flips - harmless
    );
    assert!(
        harmless * 20 < flips,
        "{harmless} of {flips} flips went unreported"
    );
}

/// The whole decompressed stream of `bytes` (every frame), if it decodes.
fn decompressed(bytes: &[u8]) -> Option<Vec<u8>> {
    zstd::stream::decode_all(bytes).ok()
}
