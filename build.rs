//! Stamps the build with the git commit it was built from, so that a benchmark's results
//! name the code that produced them whichever directory kvlab is run in.

use std::process::Command;

fn main() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    // Outside a checkout (a crate from the registry) there is no commit to name.
    let commit = match git(&["rev-parse", "--short", "HEAD"]) {
        Some(hash) if !hash.is_empty() => {
            let edited = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|changes| !changes.is_empty());
            if edited {
                format!("{hash}-dirty")
            } else {
                hash
            }
        }
        _ => "unknown".to_string(),
    };
    println!("cargo:rustc-env=KVLAB_COMMIT={commit}");
    // A new commit moves HEAD or the branch it names; an edit changes the sources. (A
    // path that does not exist would rerun this script on every build.)
    if let Some(git_dir) = git(&["rev-parse", "--git-dir"]) {
        for watched in ["HEAD", "refs/heads", "packed-refs"] {
            let path = format!("{git_dir}/{watched}");
            if std::path::Path::new(&path).exists() {
                println!("cargo:rerun-if-changed={path}");
            }
        }
    }
    for watched in ["src", "Cargo.toml", "build.rs"] {
        println!("cargo:rerun-if-changed={watched}");
    }
}
