//! Mounting a layer: checks, `fuser` options, the session.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::Path;

use fuser::MountOption;

use crate::{DiskFs, Error, MountHandle};

use super::Fs;

fn fusermount_on_path() -> bool {
    std::env::var_os("PATH")
        .map(|p| {
            std::env::split_paths(&p)
                .any(|d| d.join("fusermount3").exists() || d.join("fusermount").exists())
        })
        .unwrap_or(false)
}

pub(crate) fn mount(d: &DiskFs, mountpoint: &Path) -> Result<MountHandle, Error> {
    if let Err(source) = fs::metadata(mountpoint) {
        return Err(Error::Mount {
            mountpoint: mountpoint.to_path_buf(),
            source,
        });
    }
    if let Err(source) = OpenOptions::new().read(true).write(true).open("/dev/fuse") {
        return Err(Error::DevFuse { source });
    }
    let allow_other = {
        let mut inner = d.lock();
        inner.reset_inodes();
        inner.allow_other
    };
    let mut config = fuser::Config::default();
    config.mount_options = vec![
        MountOption::FSName("faultline-diskfs".into()),
        MountOption::Subtype("faultline".into()),
        MountOption::DefaultPermissions,
    ];
    if allow_other {
        config.acl = fuser::SessionACL::All;
    }
    let fs = Fs {
        inner: d.inner.clone(),
    };
    let session = fuser::spawn_mount(fs, mountpoint, &config).map_err(|source| {
        let eperm = source.raw_os_error() == Some(libc::EPERM)
            || source.kind() == io::ErrorKind::PermissionDenied
            // mount(2) said EPERM and fuser fell back to a fusermount that is not installed.
            || (source.kind() == io::ErrorKind::NotFound && !fusermount_on_path());
        if eperm {
            Error::MountNotPermitted {
                mountpoint: mountpoint.to_path_buf(),
                source,
            }
        } else {
            Error::Mount {
                mountpoint: mountpoint.to_path_buf(),
                source,
            }
        }
    })?;
    d.lock().notifier = Some(session.notifier());
    tracing::info!(backing = %d.backing.display(), mountpoint = %mountpoint.display(), "mounted");
    Ok(MountHandle {
        session: Some(session),
        fs: d.clone(),
        mountpoint: mountpoint.to_path_buf(),
    })
}
