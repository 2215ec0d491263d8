//! The GenVideo OpenFX plugin.
