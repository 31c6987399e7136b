//! Progress for people, on stderr: one line per step, a spinner or a byte
//! bar while a long step runs, and the time each step took.

use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One step of a task, printed as `[task] message` when it starts and again
/// with its outcome and duration when it ends.
pub struct Step {
    task: &'static str,
    started: Instant,
    spinner: ProgressBar,
}

impl Step {
    pub fn start(task: &'static str, message: impl Into<String>) -> Step {
        let message = message.into();
        eprintln!("[{task}] {message}");
        let spinner = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        spinner.set_style(ProgressStyle::with_template("  {spinner} {elapsed} {wide_msg}").expect("valid template"));
        spinner.enable_steady_tick(Duration::from_millis(200));
        Step { task, started: Instant::now(), spinner }
    }

    /// Shows `message` beside the spinner: the sub-step now running.
    pub fn set_message(&self, message: &str) {
        self.spinner.set_message(message.to_owned());
    }

    /// Ends the step with a line such as `[bundle] built esb-bundle:latest (41.2 s)`.
    pub fn done(self, message: impl AsRef<str>) -> Duration {
        self.spinner.finish_and_clear();
        let elapsed = self.started.elapsed();
        eprintln!("[{}] {} ({})", self.task, message.as_ref(), format_duration(elapsed));
        elapsed
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        self.spinner.finish_and_clear();
    }
}

/// Prints one line for people: `[task] message`.
pub fn line(task: &str, message: impl AsRef<str>) {
    eprintln!("[{task}] {}", message.as_ref());
}

/// Returns a progress bar for moving `total` bytes, hidden when stderr is not a terminal.
pub fn bytes_bar(total: u64, verb: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("  {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(verb.to_owned());
    bar
}

/// Returns `1 function`, `2 functions`: the count with the noun in the right number.
pub fn count(number: usize, noun: &str) -> String {
    if number == 1 {
        format!("1 {noun}")
    } else {
        format!("{number} {noun}s")
    }
}

pub fn format_bytes(bytes: u64) -> String {
    HumanBytes(bytes).to_string()
}

pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs_f64();
    if seconds < 120.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{}m{:02}s", duration.as_secs() / 60, duration.as_secs() % 60)
    }
}

/// Formats an error chain for people: `Error: outer: inner: cause`, then every
/// `hint:` line found anywhere in the chain, so advice stays at the end.
pub fn format_error(error: &anyhow::Error) -> String {
    let mut parts = Vec::new();
    let mut hints = Vec::new();
    for cause in error.chain() {
        let text = cause.to_string();
        let mut kept = Vec::new();
        for line in text.lines() {
            if line.starts_with("hint:") {
                hints.push(line.to_owned());
            } else {
                kept.push(line);
            }
        }
        let kept = kept.join("\n");
        if !kept.is_empty() && !parts.contains(&kept) {
            parts.push(kept);
        }
    }
    let mut message = format!("Error: {}", parts.join(": "));
    for hint in hints {
        message.push('\n');
        message.push_str(&hint);
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_error_moves_hints_last() {
        let error = anyhow::anyhow!("connection refused")
            .context("no Docker engine responds at unix:///var/run/docker.sock\nhint: run `bash .ci/docker-host.sh` as root");
        assert_eq!(
            format_error(&error),
            "Error: no Docker engine responds at unix:///var/run/docker.sock: connection refused\nhint: run `bash .ci/docker-host.sh` as root"
        );
    }

    #[test]
    fn format_error_keeps_multiline_details() {
        let error = anyhow::anyhow!("2 images are not present:\n  `a:1`\n  `b:1`\nhint: build them first");
        assert_eq!(format_error(&error), "Error: 2 images are not present:\n  `a:1`\n  `b:1`\nhint: build them first");
    }
}
