//! `workroom image build`: the guest image, built by the `workroom-image` library into the data
//! directory's images folder (where sessions look for it).

use std::process::ExitCode;

use anyhow::Context;
use workroom_image::build::{self, BuildOptions};
use workroom_image::{agent, default_cache_dir, process_env};

use crate::args::ImageArch;
use crate::setup::App;
use crate::term::{dim, green};

/// The architecture asked for, else this machine's.
fn image_arch(arch: Option<ImageArch>) -> workroom_image::Arch {
    match arch {
        Some(ImageArch::X86_64) => workroom_image::Arch::X86_64,
        Some(ImageArch::Aarch64) => workroom_image::Arch::Aarch64,
        None => workroom_host::vm::Arch::default().into(),
    }
}

/// `workroom image userland`: the full userland, next to the image.
pub fn userland(app: &App, arch: Option<ImageArch>, office: bool) -> anyhow::Result<ExitCode> {
    let arch = image_arch(arch);
    let options = workroom_image::userland::UserlandOptions {
        arch,
        out_dir: app.images.clone(),
        cache_dir: default_cache_dir(process_env)?,
        office,
        progress: Default::default(),
    };
    println!(
        "Preparing the full {arch} userland in {} (downloads are cached in {}).",
        workroom_image::userland::userland_dir(&app.images, arch).display(),
        options.cache_dir.display()
    );
    let (dir, manifest) = workroom_image::userland::build(&options)
        .with_context(|| format!("preparing the {arch} userland failed"))?;
    println!(
        "{} the full userland is ready in {} ({} packages, {}); use it with: workroom config set userland full",
        green().apply_to("✓"),
        dir.display(),
        manifest.packages,
        workroom_image::fetch::human_size(manifest.size_bytes)
    );
    Ok(ExitCode::SUCCESS)
}

pub fn build(app: &App, arch: Option<ImageArch>) -> anyhow::Result<ExitCode> {
    let arch = image_arch(arch);
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
