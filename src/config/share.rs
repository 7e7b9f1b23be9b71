//! `--share HOSTDIR[:TAG]`: a host directory shared with the guest, as a device of the kind that
//! shares directories (`DeviceKind::shared_dir`: `virtio-fs`) added to the machine, its options
//! set from the command line (so errors about them name `--share`).

use std::path::PathBuf;

use semu_api::{ConfigError, DeviceKind, SourceFile};
use toml::Spanned;

use super::{DeviceEntry, MachineFile};
use crate::registry;

/// One `--share HOSTDIR[:TAG]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    /// The host directory (relative to the working directory).
    pub dir: PathBuf,
    /// The tag the guest mounts it by (default: `share`, `share1`, ... by position).
    pub tag: Option<String>,
}

impl Share {
    /// Parses `HOSTDIR[:TAG]`: the text after the last `:` is the tag unless it holds a `/` (then
    /// the whole is a path).
    pub fn parse(s: &str) -> Result<Share, String> {
        let (dir, tag) = match s.rsplit_once(':') {
            Some((d, t)) if !t.contains('/') => (d, Some(t.to_string())),
            _ => (s, None),
        };
        if dir.is_empty() {
            return Err(format!("\"{s}\": expected HOSTDIR or HOSTDIR:TAG"));
        }
        Ok(Share { dir: PathBuf::from(dir), tag })
    }
}

/// Adds a `[[device]]` entry for each `--share` (named `share0`, `share1`, ... past the names the
/// file uses); returns each one's name, directory and tag.
pub(super) fn add_devices(
    file: &SourceFile,
    m: &mut MachineFile,
    shares: &[Share],
) -> Result<Vec<(String, PathBuf, String)>, ConfigError> {
    let mut out = Vec::new();
    if shares.is_empty() {
        return Ok(out);
    }
    let kind: &DeviceKind = registry::kinds()
        .into_iter()
        .find(|k| k.shared_dir.is_some())
        .ok_or_else(|| file.error(None, "no device kind can share a directory").option("--share"))?;
    let mut n = 0;
    for (i, share) in shares.iter().enumerate() {
        let name = loop {
            let name = format!("share{n}");
            n += 1;
            if !m.devices.iter().any(|d| *d.get_ref().name.get_ref() == name) {
                break name;
            }
        };
        let tag = share.tag.clone().unwrap_or_else(|| if i == 0 { "share".into() } else { format!("share{i}") });
        let cli = |v: &str| Spanned::new(0..0, v.to_string());
        let entry = DeviceEntry {
            name: cli(&name),
            kind: cli(kind.kind),
            base: None,
            irq: None,
            irq_parent: None,
            options: toml::Table::new(),
        };
        m.devices.push(Spanned::new(0..0, entry));
        out.push((name, share.dir.clone(), tag));
    }
    Ok(out)
}

/// Sets the options of the devices [`add_devices`] added.
pub(super) fn set_options(devices: &mut [super::validate::Placed], shares: Vec<(String, PathBuf, String)>) {
    for (name, dir, tag) in shares {
        let Some(d) = devices.iter_mut().find(|d| d.spec.name == name) else { continue };
        let Some(opts) = d.kind.shared_dir else { continue };
        d.spec.params.set_override(opts.path_option, toml::Value::String(dir.display().to_string()), "--share");
        d.spec.params.set_override(opts.tag_option, toml::Value::String(tag), "--share");
    }
}
