//! `workroom image build`: the guest image, built by the `workroom-image` library into the data
//! directory's images folder (where sessions look for it).

use std::process::ExitCode;

use anyhow::Context;
use workroom_image::build::{self, BuildOptions};
use workroom_image::{agent, default_cache_dir, process_env};

use crate::args::ImageArch;
use crate::setup::App;
use crate::term::{dim, green};

pub fn build(app: &App, arch: Option<ImageArch>) -> anyhow::Result<ExitCode> {
    let arch = match arch {
        Some(ImageArch::X86_64) => workroom_image::Arch::X86_64,
        Some(ImageArch::Aarch64) => workroom_image::Arch::Aarch64,
        None => match workroom_host::vm::Arch::default() {
            workroom_host::vm::Arch::X86_64 => workroom_image::Arch::X86_64,
            workroom_host::vm::Arch::Aarch64 => workroom_image::Arch::Aarch64,
        },
    };
    let options = BuildOptions {
        arch,
        out_dir: app.images.clone(),
        cache_dir: default_cache_dir(process_env)?,
        agent_bin: None,
        agent_version: None,
        // The agent is cross-built from the source tree this program was built from.
        workspace: agent::workspace_root(),
        progress: Default::default(),
    };
    println!(
        "Building the {arch} guest image into {} (downloads are cached in {}).",
        app.images.join(arch.name()).display(),
        options.cache_dir.display()
    );
    println!(
        "{}",
        dim().apply_to("This fetches pinned Debian packages and cross-builds the agent; the first build takes a few minutes.")
    );
    // The builder reports its steps on stderr as it goes.
    let report = build::build(&options)
        .with_context(|| format!("building the {arch} guest image failed"))?;
    println!(
        "{} the {arch} guest image is ready in {}",
        green().apply_to("✓"),
        report.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
