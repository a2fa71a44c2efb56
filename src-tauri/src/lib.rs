//! The Gatehouse console: a thin Tauri shell whose commands call into
//! `gatehouse-client`. The UI never reaches the network itself.
#![deny(missing_docs)]

pub mod commands;

use gatehouse_client::profile::ProfileStore;
use gatehouse_client::secret::SecretStore;
use tauri_specta::collect_commands;

/// Environment variable naming the profile to connect with at start-up.
pub const PROFILE_ENV: &str = "GATEHOUSE_PROFILE";

/// What every command can reach.
#[derive(Debug)]
pub struct Console {
    /// The profiles on this machine (shared with the `gatehouse` CLI).
    pub profiles: Result<ProfileStore, commands::IpcError>,
    /// Profile to connect with at start-up (`--profile NAME` or `GATEHOUSE_PROFILE`).
    pub startup_profile: Option<String>,
    /// The open audit caches.
    pub caches: commands::audit::Caches,
    /// The connection of the profile the person is connected with.
    pub live: commands::connection::Live,
    /// The add-profile form's files, chosen in Rust-side dialogs.
    pub chosen: commands::files::Chosen,
    /// The devices the last scan found: device commands name them by id.
    pub devices: commands::device::Scanned,
    /// Proposals reviewed and waiting for the officer's signature.
    pub reviews: commands::proposals::Reviews,
    /// Pause and unpause bodies prepared and waiting for the responder's device.
    pub bodies: commands::breaker::Bodies,
    /// Break-glass pauses built and waiting for the responder's device.
    pub break_glass: commands::breakglass::Bodies,
}

impl Console {
    /// Reads the profile store location and the start-up profile from the environment and arguments.
    pub fn from_env() -> Self {
        let profiles =
            ProfileStore::open_default(SecretStore::native()).map_err(commands::IpcError::from);
        let mut args = std::env::args().skip(1);
        let mut from_args = None;
        while let Some(arg) = args.next() {
            if arg == "--profile" {
                from_args = args.next();
            } else if let Some(name) = arg.strip_prefix("--profile=") {
                from_args = Some(name.to_owned());
            }
        }
        let startup_profile = from_args
            .or_else(|| std::env::var(PROFILE_ENV).ok())
            .filter(|p| !p.is_empty());
        Self {
            profiles,
            startup_profile,
            caches: commands::audit::Caches::default(),
            live: commands::connection::Live::default(),
            chosen: commands::files::Chosen::default(),
            devices: commands::device::Scanned::default(),
            reviews: commands::proposals::Reviews::default(),
            bodies: commands::breaker::Bodies::default(),
            break_glass: commands::breakglass::Bodies::default(),
        }
    }
}

/// The typed command set; also what the bindings are generated from.
pub fn specta_builder() -> tauri_specta::Builder<tauri::Wry> {
    // One shape per type: every IPC type here crosses in one direction only.
    tauri_specta::Builder::<tauri::Wry>::new()
        .disable_serde_phases()
        .commands(collect_commands![
            commands::profile::profile_list,
            commands::profile::profile_choose_file,
            commands::profile::profile_add,
            commands::profile::profile_import,
            commands::profile::profile_remove,
            commands::profile::profile_pin_mirror,
            commands::connection::startup_profile,
            commands::connection::connect,
            commands::connection::disconnect,
            commands::connection::ledger_status,
            commands::connection::live_check,
            commands::device::device_scan,
            commands::device::device_open,
            commands::device::device_generate,
            commands::device::device_change_pin,
            commands::device::device_unblock_pin,
            commands::audit::audit_status,
            commands::audit::audit_sync,
            commands::audit::audit_verify,
            commands::audit::audit_page,
            commands::audit::audit_timeline,
            commands::audit::audit_facets,
            commands::audit::audit_entry,
            commands::audit::audit_export,
            commands::audit::audit_discard,
            commands::proposals::proposals_list,
            commands::proposals::proposal_detail,
            commands::proposals::proposal_review,
            commands::proposals::proposal_approve,
            commands::proposals::proposal_reject,
            commands::proposals::proposal_cancel,
            commands::proposals::mint_propose,
            commands::policy::policy_current,
            commands::policy::policy_propose,
            commands::breaker::breaker_status,
            commands::breaker::breaker_prepare_pause,
            commands::breaker::breaker_prepare_unpause,
            commands::breaker::breaker_sign,
            commands::breaker::resume_propose,
            commands::breakglass::break_glass_status,
            commands::breakglass::break_glass_prepare,
            commands::breakglass::break_glass_sign,
            commands::rotation::rotation_overview,
            commands::rotation::rotation_stage_key,
            commands::rotation::rotation_propose,
            commands::rotation::rotation_offboard,
            commands::rotation::rotation_onboard,
            commands::rotation::rotation_join,
        ])
}

/// Starts the console.
pub fn run() {
    // The yubikey crate logs an error for every empty reader it looks at while finding a
    // YubiKey; what matters comes back as a device error. GATEHOUSE_LOG overrides.
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new("error,yubikey=off,cryptoki::mechanism=off")
        });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let builder = specta_builder();
    let result = tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .plugin(tauri_plugin_notification::init())
        .manage(Console::from_env())
        .invoke_handler(builder.invoke_handler())
        .run(tauri::generate_context!());
    if let Err(error) = result {
        tracing::error!(%error, "the console could not start");
        eprintln!("gatehouse-console: could not start: {error}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    /// `src-tauri`, read at run time (see `bindings`).
    fn manifest_dir() -> PathBuf {
        std::env::var_os("CARGO_MANIFEST_DIR")
            .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from)
    }

    fn read(relative: &str) -> String {
        let path = manifest_dir().join(relative);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// The text between `open` and the first `close` after it.
    fn between<'a>(text: &'a str, open: &str, close: &str) -> &'a str {
        let start = text
            .find(open)
            .unwrap_or_else(|| panic!("{open:?} not found"))
            + open.len();
        let end = text[start..]
            .find(close)
            .unwrap_or_else(|| panic!("{close:?} not found after {open:?}"));
        &text[start..start + end]
    }

    /// Every string literal in `text`.
    fn quoted(text: &str) -> BTreeSet<String> {
        text.split('"')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect()
    }

    fn snake(camel: &str) -> String {
        let mut out = String::new();
        for c in camel.chars() {
            if c.is_ascii_uppercase() {
                out.push('_');
                out.push(c.to_ascii_lowercase());
            } else {
                out.push(c);
            }
        }
        out
    }

    /// The commands `collect_commands!` registers, from this file's source.
    fn collected() -> BTreeSet<String> {
        between(&read("src/lib.rs"), "collect_commands![", "]")
            .split(',')
            .filter_map(|path| path.trim().rsplit("::").next())
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The other lists that must name the same commands, each with where it comes from.
    fn declared() -> Vec<(&'static str, BTreeSet<String>)> {
        let manifest = quoted(between(&read("build.rs"), ".commands(&[", "]"));
        let capability: serde_json::Value =
            serde_json::from_str(&read("capabilities/main.json")).expect("capability JSON");
        let allowed = capability["permissions"]
            .as_array()
            .expect("permissions")
            .iter()
            .filter_map(|p| p.as_str()?.strip_prefix("allow-"))
            .map(|name| name.replace('-', "_"))
            .collect();
        // Generated afresh (the `bindings` test may be rewriting ui/src/bindings.ts meanwhile;
        // scripts/test checks the committed file is what generation gives).
        let generated = tempfile::NamedTempFile::new().expect("temp file");
        super::specta_builder()
            .export(specta_typescript::Typescript::default(), generated.path())
            .expect("bindings export");
        let bindings = std::fs::read_to_string(generated.path()).expect("bindings read");
        let bound = bindings
            .split("__TAURI_INVOKE")
            .skip(1)
            // A call: `("name"` or `<T>("name"` (the import is not one).
            .filter(|call| call.starts_with(['(', '<']))
            .filter_map(|call| call.split_once("(\"")?.1.split_once('"'))
            .map(|(name, _)| name.to_owned())
            .collect();
        let mocked = between(
            &read("../ui/src/testing/mock-bindings.ts"),
            "commands = {",
            "}",
        )
        .split(',')
        .filter_map(|entry| entry.split_once(':'))
        .map(|(name, _)| snake(name.trim()))
        .collect();
        let permissions = std::fs::read_dir(manifest_dir().join("permissions/autogenerated"))
            .expect("generated permissions")
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                Some(name.strip_suffix(".toml")?.to_owned())
            })
            .filter(|name| name != "reference")
            .collect();
        vec![
            ("build.rs (the permission manifest)", manifest),
            ("capabilities/main.json (allow-...)", allowed),
            ("the bindings (ui/src/bindings.ts)", bound),
            ("ui/src/testing/mock-bindings.ts", mocked),
            (
                "permissions/autogenerated (commit what the build wrote)",
                permissions,
            ),
        ]
    }

    /// Every command is registered, declared for a permission, granted to the window, bound and
    /// mocked for the UI, or none of these: a command missing from one list is unreachable or
    /// untested, and one left over is a grant nothing uses.
    #[test]
    fn the_command_lists_agree() {
        let commands = collected();
        assert!(
            commands.len() > 10,
            "collect_commands! parsed: {commands:?}"
        );
        for (source, names) in declared() {
            let missing: Vec<_> = commands.difference(&names).collect();
            let extra: Vec<_> = names.difference(&commands).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{source} disagrees with collect_commands!: missing {missing:?}, not a command {extra:?}"
            );
        }
    }
    /// Regenerates `ui/src/bindings.ts`; `scripts/test` fails when this changes the committed file.
    #[test]
    fn bindings() {
        // Read at run time: a compile-time `env!` keeps the path of whichever checkout first built
        // this test, and cargo reuses builds across checkouts that share a target directory.
        let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")),
            std::path::PathBuf::from,
        );
        let path = manifest.join("../ui/src/bindings.ts");
        super::specta_builder()
            .export(
                specta_typescript::Typescript::default()
                    .header("// Generated by tauri-specta from src-tauri (`cargo test -p gatehouse-console --lib bindings`). Do not edit.\n"),
                &path,
            )
            .expect("bindings export");
        let text = std::fs::read_to_string(&path).expect("bindings written");
        for command in [
            "profileList",
            "profileAdd",
            "profileImport",
            "profileRemove",
            "startupProfile",
            "connect",
            "deviceScan",
            "deviceOpen",
            "deviceGenerate",
            "auditStatus",
            "auditSync",
            "auditVerify",
            "auditPage",
            "auditTimeline",
            "auditFacets",
            "auditEntry",
            "auditExport",
            "auditDiscard",
        ] {
            assert!(
                text.contains(&format!("\t{command}: (")),
                "bindings expose {command}"
            );
        }
    }
}
