//! `genvideo-train`: see the crate documentation; `--help` lists the options.

use clap::Parser;
use train::{stages, Args};

fn main() {
    stages::start_clock();
    train::keep_freed_memory();
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("genvideo-train: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    if args.time_limit.is_some() && args.stage == train::Stage::All {
        return Err("--time-limit fits one stage's schedule: name the stage (vae or transformer)".into());
    }
    let device = models::select_device().map_err(|e| e.to_string())?;
    if device == tch::Device::Cpu {
        let threads =
            args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()) as i32);
        tch::set_num_threads(threads);
    }
    eprintln!("genvideo-train: {:?} on {device:?}", args.stage);
    std::fs::create_dir_all(&args.work).map_err(|e| format!("{}: {e}", args.work.display()))?;
    if args.restart {
        for stage in ["vae", "transformer"] {
            let _ = std::fs::remove_dir_all(args.work.join(stage));
        }
    }
    if args.stage.trains("vae") {
        stages::train_vae(args, device)?;
    }
    if args.stage.trains("transformer") {
        stages::train_transformer(args, device)?;
    }
    stages::write_record(args, device)
}
