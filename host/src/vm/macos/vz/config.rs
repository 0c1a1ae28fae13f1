//! A [`VzPlan`] as a `VZVirtualMachineConfiguration`.

use std::os::fd::{IntoRawFd, OwnedFd};

use objc2::rc::Retained;
use objc2::AllocAnyThread;
use objc2_foundation::{NSArray, NSDictionary, NSFileHandle, NSString, NSURL};
use objc2_virtualization::{
    VZBootLoader, VZDirectoryShare, VZDirectorySharingDeviceConfiguration,
    VZEntropyDeviceConfiguration, VZFileHandleSerialPortAttachment, VZLinuxBootLoader,
    VZMemoryBalloonDeviceConfiguration, VZMultipleDirectoryShare, VZSerialPortAttachment,
    VZSerialPortConfiguration, VZSharedDirectory, VZSocketDeviceConfiguration,
    VZVirtioConsoleDeviceSerialPortConfiguration, VZVirtioEntropyDeviceConfiguration,
    VZVirtioFileSystemDeviceConfiguration, VZVirtioSocketDeviceConfiguration,
    VZVirtioTraditionalMemoryBalloonDeviceConfiguration, VZVirtualMachineConfiguration,
};

use super::super::plan::VzPlan;
use super::super::shares::{ShareSet, DEVICE_TAG};
use crate::vm::VmError;

/// The configuration for `plan`, validated by the framework. `console` is the write end of the
/// console pipe; the configuration owns it from here on.
pub(super) fn configuration(
    plan: &VzPlan,
    console: OwnedFd,
) -> Result<Retained<VZVirtualMachineConfiguration>, VmError> {
    let kernel = file_url(&plan.kernel)?;
    let initramfs = file_url(&plan.initramfs)?;
    let shares = match plan.device_tag() {
        Some(tag) => Some(file_system_device(tag, &plan.shares)?),
        None => None,
    };
    // SAFETY: plain object construction and property setters on objects this function owns; the
    // configuration is only used after `validateWithError` accepted it.
    unsafe {
        let boot = VZLinuxBootLoader::initWithKernelURL(VZLinuxBootLoader::alloc(), &kernel);
        boot.setInitialRamdiskURL(Some(&initramfs));
        boot.setCommandLine(&NSString::from_str(&plan.command_line));
        let boot: &VZBootLoader = &boot;

        // The console: the guest's `hvc0`, written into the pipe the console copier reads. The
        // handle closes the descriptor when the framework releases it.
        let handle = NSFileHandle::initWithFileDescriptor_closeOnDealloc(
            NSFileHandle::alloc(),
            console.into_raw_fd(),
            true,
        );
        let attachment =
            VZFileHandleSerialPortAttachment::initWithFileHandleForReading_fileHandleForWriting(
                VZFileHandleSerialPortAttachment::alloc(),
                None,
                Some(&handle),
            );
        let attachment: &VZSerialPortAttachment = &attachment;
        let serial = VZVirtioConsoleDeviceSerialPortConfiguration::new();
        serial.setAttachment(Some(attachment));

        let config = VZVirtualMachineConfiguration::new();
        config.setBootLoader(Some(boot));
        config.setCPUCount(plan.cpus);
        config.setMemorySize(plan.memory_bytes);
        config.setSerialPorts(&NSArray::<VZSerialPortConfiguration>::from_retained_slice(
            &[Retained::into_super(serial)],
        ));
        config.setEntropyDevices(
            &NSArray::<VZEntropyDeviceConfiguration>::from_retained_slice(&[Retained::into_super(
                VZVirtioEntropyDeviceConfiguration::new(),
            )]),
        );
        // The guest gives back memory it does not use when the host inflates the balloon.
        config.setMemoryBalloonDevices(
            &NSArray::<VZMemoryBalloonDeviceConfiguration>::from_retained_slice(&[
                Retained::into_super(VZVirtioTraditionalMemoryBalloonDeviceConfiguration::new()),
            ]),
        );
        config.setSocketDevices(
            &NSArray::<VZSocketDeviceConfiguration>::from_retained_slice(&[Retained::into_super(
                VZVirtioSocketDeviceConfiguration::new(),
            )]),
        );
        if let Some(device) = shares {
            config.setDirectorySharingDevices(
                &NSArray::<VZDirectorySharingDeviceConfiguration>::from_retained_slice(&[
                    Retained::into_super(device),
                ]),
            );
        }
        config
            .validateWithError()
            .map_err(|e| VmError::InvalidConfig(e.localizedDescription().to_string()))?;
        Ok(config)
    }
}

/// The one VirtioFS device, carrying every share as a directory of a multiple-directory share.
fn file_system_device(
    tag: &str,
    shares: &ShareSet,
) -> Result<Retained<VZVirtioFileSystemDeviceConfiguration>, VmError> {
    let share = directory_share(shares).map_err(VmError::InvalidConfig)?;
    let share: &VZDirectoryShare = &share;
    // SAFETY: object construction and a setter on an object this function owns.
    unsafe {
        let device = VZVirtioFileSystemDeviceConfiguration::initWithTag(
            VZVirtioFileSystemDeviceConfiguration::alloc(),
            &NSString::from_str(tag),
        );
        device.setShare(Some(share));
        Ok(device)
    }
}

/// The shares as a `VZMultipleDirectoryShare` (name → directory). Also used to replace the
/// directories of a running VM's device.
pub(super) fn directory_share(
    shares: &ShareSet,
) -> Result<Retained<VZMultipleDirectoryShare>, String> {
    let mut names = Vec::with_capacity(shares.len());
    let mut directories = Vec::with_capacity(shares.len());
    for (name, dir) in shares.iter() {
        let url = NSURL::from_directory_path(&dir.host_path)
            .ok_or_else(|| format!("{} is not a usable folder path", dir.host_path.display()))?;
        // SAFETY: object construction from a file URL.
        let directory = unsafe {
            VZSharedDirectory::initWithURL_readOnly(VZSharedDirectory::alloc(), &url, dir.read_only)
        };
        names.push(NSString::from_str(name));
        directories.push(directory);
    }
    let keys: Vec<&NSString> = names.iter().map(|n| &**n).collect();
    let map = NSDictionary::from_retained_objects(&keys, &directories);
    debug_assert!(
        shares
            .iter()
            .all(|(name, _)| name != "." && name != ".." && !name.contains('/')),
        "share names are checked by ShareSet"
    );
    // SAFETY: object construction; the names are valid directory names (checked by `ShareSet`).
    Ok(unsafe {
        VZMultipleDirectoryShare::initWithDirectories(VZMultipleDirectoryShare::alloc(), &map)
    })
}

fn file_url(path: &std::path::Path) -> Result<Retained<NSURL>, VmError> {
    NSURL::from_file_path(path).ok_or_else(|| {
        VmError::InvalidConfig(format!("{} is not a usable file path", path.display()))
    })
}

/// The tag is a constant; keep it valid for the framework (`validateTag:error:` accepts at most
/// 36 bytes of UTF-8).
const _: () = assert!(!DEVICE_TAG.is_empty() && DEVICE_TAG.len() <= 36);
