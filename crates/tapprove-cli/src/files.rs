//! Reading input files (or standard input), writing files atomically,
//! and the clock (`--now`).

use std::fs;
use std::io::{Read, Write};
use std::path::Path;

use tapprove_proto::UtcTime;

use crate::exit::{Failure, Result};

/// Reads a file, or standard input for `-`.
pub fn read_input(path: &Path, what: &str) -> Result<Vec<u8>> {
    if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::stdin()
            .read_to_end(&mut bytes)
            .map_err(|e| Failure::input(format!("cannot read the {what} from standard input: {e}")))?;
        return Ok(bytes);
    }
    fs::read(path).map_err(|e| Failure::input(format!("cannot read the {what} {}: {e}", path.display())))
}

pub fn is_stdin(path: &Path) -> bool {
    path == Path::new("-")
}

/// Writes `bytes` to a temporary file beside `path` and renames it into
/// place, so readers see the old file or the new one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut file = fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}

/// The clock: `--now` when given, else the system time.
pub fn now(arg: Option<&str>) -> Result<UtcTime> {
    match arg {
        Some(text) => UtcTime::parse(text).map_err(|e| Failure::input(format!("--now: {e}"))),
        None => Ok(system_now()),
    }
}

/// The system clock: the one place the CLI reads it (an engine it opens
/// reads the same clock, `Engine::clock`).
pub fn system_now() -> UtcTime {
    tapprove_proto::Clock::utc(&tapprove_proto::SystemClock)
}
