//! Scenes: what is in a clip and how it moves. Positions are fractions of the frame's shorter
//! side measured from its centre, times are seconds, so one scene renders at any size, frame rate
//! and length.

use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    Circle,
    Square,
    Triangle,
    Star,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Colour {
    Red,
    Green,
    Blue,
    Yellow,
    Purple,
    Orange,
    White,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Background {
    Black,
    Grey,
    Navy,
    Sand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Size {
    Small,
    Large,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Motion {
    Left,
    Right,
    Up,
    Down,
    Grow,
    Shrink,
    Rotate,
    Bounce,
}

impl Shape {
    pub const ALL: [Shape; 4] = [Shape::Circle, Shape::Square, Shape::Triangle, Shape::Star];
    pub fn name(self) -> &'static str {
        match self {
            Shape::Circle => "circle",
            Shape::Square => "square",
            Shape::Triangle => "triangle",
            Shape::Star => "star",
        }
    }
}

impl Colour {
    pub const ALL: [Colour; 7] =
        [Colour::Red, Colour::Green, Colour::Blue, Colour::Yellow, Colour::Purple, Colour::Orange, Colour::White];
    pub fn name(self) -> &'static str {
        match self {
            Colour::Red => "red",
            Colour::Green => "green",
            Colour::Blue => "blue",
            Colour::Yellow => "yellow",
            Colour::Purple => "purple",
            Colour::Orange => "orange",
            Colour::White => "white",
        }
    }
    /// Display-referred sRGB in [0, 1]; far enough apart (and from every background) that a
    /// generated pixel's nearest palette entry names its colour.
    pub fn rgb(self) -> [f32; 3] {
        match self {
            Colour::Red => [0.90, 0.12, 0.10],
            Colour::Green => [0.15, 0.80, 0.20],
            Colour::Blue => [0.15, 0.35, 0.95],
            Colour::Yellow => [0.98, 0.90, 0.15],
            Colour::Purple => [0.60, 0.20, 0.80],
            Colour::Orange => [1.00, 0.55, 0.05],
            Colour::White => [0.97, 0.97, 0.97],
        }
    }
}

impl Background {
    pub const ALL: [Background; 4] = [Background::Black, Background::Grey, Background::Navy, Background::Sand];
    pub fn name(self) -> &'static str {
        match self {
            Background::Black => "black",
            Background::Grey => "grey",
            Background::Navy => "navy",
            Background::Sand => "sand",
        }
    }
    pub fn rgb(self) -> [f32; 3] {
        match self {
            Background::Black => [0.03, 0.03, 0.03],
            Background::Grey => [0.45, 0.45, 0.45],
            Background::Navy => [0.06, 0.09, 0.30],
            Background::Sand => [0.82, 0.72, 0.52],
        }
    }
}

impl Size {
    pub const ALL: [Size; 2] = [Size::Small, Size::Large];
    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Large => "large",
        }
    }
    /// Circumradius as a fraction of the frame's shorter side.
    pub fn radius(self) -> f64 {
        match self {
            Size::Small => 0.085,
            Size::Large => 0.14,
        }
    }
}

impl Motion {
    pub const ALL: [Motion; 8] = [
        Motion::Left,
        Motion::Right,
        Motion::Up,
        Motion::Down,
        Motion::Grow,
        Motion::Shrink,
        Motion::Rotate,
        Motion::Bounce,
    ];
    pub fn name(self) -> &'static str {
        match self {
            Motion::Left => "left",
            Motion::Right => "right",
            Motion::Up => "up",
            Motion::Down => "down",
            Motion::Grow => "grow",
            Motion::Shrink => "shrink",
            Motion::Rotate => "rotate",
            Motion::Bounce => "bounce",
        }
    }
    /// Unit direction of travel for the four translations (y grows downwards).
    pub fn direction(self) -> Option<(f64, f64)> {
        match self {
            Motion::Left => Some((-1.0, 0.0)),
            Motion::Right => Some((1.0, 0.0)),
            Motion::Up => Some((0.0, -1.0)),
            Motion::Down => Some((0.0, 1.0)),
            _ => None,
        }
    }
}

/// Frame widths per second travelled by a translating object.
pub const SPEED: f64 = 0.22;
/// Seconds a generated clip lasts by default (49 frames at 24 fps).
pub const CLIP_SECONDS: f64 = 2.0;

/// One object and its motion.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub shape: Shape,
    pub colour: Colour,
    pub size: Size,
    pub motion: Motion,
    /// Centre at t = 0, in shorter-side units from the frame centre.
    pub x0: f64,
    pub y0: f64,
    /// Orientation at t = 0, radians.
    pub angle0: f64,
    /// Translation velocity (shorter sides per second); for two-object scenes it is set directly.
    pub velocity: (f64, f64),
}

/// Pose of an object at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    pub x: f64,
    pub y: f64,
    pub radius: f64,
    pub angle: f64,
}

impl Object {
    pub fn pose(&self, t: f64) -> Pose {
        let r = self.size.radius();
        let mut pose = Pose {
            x: self.x0 + self.velocity.0 * t,
            y: self.y0 + self.velocity.1 * t,
            radius: r,
            angle: self.angle0,
        };
        match self.motion {
            Motion::Grow => pose.radius = r * (0.6 + 0.45 * t),
            Motion::Shrink => pose.radius = r * (1.5 - 0.45 * t).max(0.15),
            Motion::Rotate => pose.angle = self.angle0 + 1.6 * t,
            Motion::Bounce => pose.y = self.y0 - 0.22 * (std::f64::consts::PI * t / 0.9).sin().abs(),
            _ => {}
        }
        pose
    }
}

/// What the caption of a scene describes.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// One object with one motion.
    Single,
    /// Two objects moving towards each other along a line and passing.
    Encounter,
    /// One object that comes into the frame across an edge, moving left, right, up or down.
    Enters,
    /// One object that starts inside the frame, moving left, right, up or down, and leaves it
    /// across the edge ahead of it: unlike every other translation, it starts on the side it
    /// moves to, so only the words tell its direction.
    Leaves,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    pub background: Background,
    pub objects: Vec<Object>,
    pub kind: Kind,
}

/// Which attribute combinations a sampler may produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// Every combination except the held-out ones.
    Train,
    /// Only combinations training never sees (single-object scenes).
    HeldOut,
}

/// True for the (shape, colour, motion, background) combinations kept out of training: about one
/// in eight, chosen by a fixed hash so every attribute value still occurs in training.
pub fn held_out(shape: Shape, colour: Colour, motion: Motion, background: Background) -> bool {
    let key = (shape as u64) * 1_000 + (colour as u64) * 100 + (motion as u64) * 10 + background as u64;
    let mut rng = Rng::new(key.wrapping_mul(0x2545_F491_4F6C_DD1D));
    rng.below(8) == 0
}

/// Whether a combination can be seen at all: a circle turning looks like nothing, and an object
/// needs contrast with the background.
pub fn visible(shape: Shape, colour: Colour, motion: Motion, background: Background) -> bool {
    if shape == Shape::Circle && motion == Motion::Rotate {
        return false;
    }
    !matches!((colour, background), (Colour::Blue, Background::Navy) | (Colour::Yellow, Background::Sand) | (Colour::Orange, Background::Sand))
}

impl Scene {
    /// A scene from `seed`: deterministic, and within `split`. `encounter_rate` is the share of
    /// two-object scenes (Train split only).
    pub fn sample(seed: u64, split: Split, encounter_rate: f64) -> Scene {
        Self::sample_with_edges(seed, split, encounter_rate, 0.0)
    }

    /// [`Scene::sample`] where `edge_rate` of the single translations enter the frame or leave it
    /// (half each). At 0 it draws nothing more, so it gives `sample`'s scenes.
    pub fn sample_with_edges(seed: u64, split: Split, encounter_rate: f64, edge_rate: f64) -> Scene {
        let mut rng = Rng::new(seed);
        if split == Split::Train && rng.chance(encounter_rate) {
            return Self::encounter(&mut rng);
        }
        loop {
            let shape = *rng.pick(&Shape::ALL);
            let colour = *rng.pick(&Colour::ALL);
            let motion = *rng.pick(&Motion::ALL);
            let background = *rng.pick(&Background::ALL);
            if !visible(shape, colour, motion, background) {
                continue;
            }
            if held_out(shape, colour, motion, background) != (split == Split::HeldOut) {
                continue;
            }
            let size = *rng.pick(&Size::ALL);
            let mut object = Self::place(&mut rng, shape, colour, size, motion);
            let mut kind = Kind::Single;
            if edge_rate > 0.0 && motion.direction().is_some() && rng.chance(edge_rate) {
                kind = if rng.chance(0.5) { Kind::Enters } else { Kind::Leaves };
                Self::cross_edge(&mut object, &kind);
            }
            return Scene { background, objects: vec![object], kind };
        }
    }

    /// A single-object scene with the given attributes, placed by `seed`.
    pub fn single(seed: u64, shape: Shape, colour: Colour, size: Size, motion: Motion, background: Background) -> Scene {
        let mut rng = Rng::new(seed);
        let object = Self::place(&mut rng, shape, colour, size, motion);
        Scene { background, objects: vec![object], kind: Kind::Single }
    }

    fn place(rng: &mut Rng, shape: Shape, colour: Colour, size: Size, motion: Motion) -> Object {
        let travel = SPEED * CLIP_SECONDS;
        let jitter = 0.12;
        let (mut x0, mut y0) = (rng.range(-jitter, jitter), rng.range(-jitter, jitter));
        let mut velocity = (0.0, 0.0);
        if let Some((dx, dy)) = motion.direction() {
            // Start behind the centre so the whole path stays inside the frame.
            x0 -= dx * travel / 2.0;
            y0 -= dy * travel / 2.0;
            velocity = (dx * SPEED, dy * SPEED);
        }
        if motion == Motion::Bounce {
            y0 = rng.range(0.12, 0.22);
        }
        Object { shape, colour, size, motion, x0, y0, angle0: rng.range(0.0, std::f64::consts::TAU), velocity }
    }

    /// Moves a translating `object` along its path so that it enters the frame across the edge
    /// behind it (wholly outside at the start) or leaves across the edge ahead (wholly outside a
    /// few frames before the end); its place across the path stays.
    fn cross_edge(object: &mut Object, kind: &Kind) {
        let Some((dx, dy)) = object.motion.direction() else { return };
        // Half a square frame (training renders 128x128) plus the circumradius and a small
        // margin: no pixel of it shows.
        let outside = 0.5 + object.size.radius() + 0.02;
        let along = match kind {
            Kind::Enters => -outside,
            _ => outside - SPEED * CLIP_SECONDS,
        };
        if dx != 0.0 {
            object.x0 = dx * along;
        } else {
            object.y0 = dy * along;
        }
    }

    fn encounter(rng: &mut Rng) -> Scene {
        loop {
            let background = *rng.pick(&Background::ALL);
            let a = (*rng.pick(&Shape::ALL), *rng.pick(&Colour::ALL));
            let b = (*rng.pick(&Shape::ALL), *rng.pick(&Colour::ALL));
            if a.1 == b.1
                || !visible(a.0, a.1, Motion::Right, background)
                || !visible(b.0, b.1, Motion::Left, background)
            {
                continue;
            }
            let y = rng.range(-0.15, 0.15);
            let lane = rng.range(0.10, 0.16);
            let start = SPEED * CLIP_SECONDS * 0.9;
            let make = |shape, colour, motion, x0: f64, y0: f64, v: f64, angle0| Object {
                shape,
                colour,
                size: Size::Small,
                motion,
                x0,
                y0,
                angle0,
                velocity: (v, 0.0),
            };
            // 6.28, not TAU: the committed model was trained on the angles this draws.
            #[allow(clippy::approx_constant)]
            let objects = vec![
                make(a.0, a.1, Motion::Right, -start, y - lane, SPEED * 0.9, rng.range(0.0, 6.28)),
                make(b.0, b.1, Motion::Left, start, y + lane, -SPEED * 0.9, rng.range(0.0, 6.28)),
            ];
            return Scene { background, objects, kind: Kind::Encounter };
        }
    }

    /// This scene with its object moving the other way from the same start: left and right (or
    /// up and down) swap, so it heads for the edge it starts nearest and leaves the frame. A
    /// left-mover otherwise always starts right of centre, so where an object is would tell its
    /// direction as well as the caption does; beside its reversal it tells nothing. `None` for
    /// all but single translations, and where the reversal's combination is held out of training.
    pub fn reversed(&self) -> Option<Scene> {
        let o = self.subject();
        let motion = match o.motion {
            Motion::Left => Motion::Right,
            Motion::Right => Motion::Left,
            Motion::Up => Motion::Down,
            Motion::Down => Motion::Up,
            _ => return None,
        };
        if self.kind != Kind::Single || held_out(o.shape, o.colour, motion, self.background) {
            return None;
        }
        let object = Object { motion, velocity: (-o.velocity.0, -o.velocity.1), ..o.clone() };
        Some(Scene { background: self.background, objects: vec![object], kind: Kind::Single })
    }

    /// The object a single-object caption is about.
    pub fn subject(&self) -> &Object {
        &self.objects[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampling_is_deterministic_and_respects_the_split() {
        for seed in 0..400 {
            let a = Scene::sample(seed, Split::Train, 0.15);
            assert_eq!(a, Scene::sample(seed, Split::Train, 0.15));
            if a.kind == Kind::Single {
                let o = a.subject();
                assert!(!held_out(o.shape, o.colour, o.motion, a.background));
                assert!(visible(o.shape, o.colour, o.motion, a.background));
            }
            let h = Scene::sample(seed, Split::HeldOut, 0.15);
            let o = h.subject();
            assert!(held_out(o.shape, o.colour, o.motion, h.background));
        }
    }

    #[test]
    fn every_attribute_value_occurs_in_training() {
        let scenes: Vec<Scene> = (0..3000).map(|s| Scene::sample(s, Split::Train, 0.0)).collect();
        for shape in Shape::ALL {
            assert!(scenes.iter().any(|s| s.subject().shape == shape));
        }
        for colour in Colour::ALL {
            assert!(scenes.iter().any(|s| s.subject().colour == colour));
        }
        for motion in Motion::ALL {
            assert!(scenes.iter().any(|s| s.subject().motion == motion));
        }
        for bg in Background::ALL {
            assert!(scenes.iter().any(|s| s.background == bg));
        }
        let combos = Shape::ALL.len() * Colour::ALL.len() * Motion::ALL.len() * Background::ALL.len();
        let held = Shape::ALL
            .iter()
            .flat_map(|&s| Colour::ALL.iter().map(move |&c| (s, c)))
            .flat_map(|(s, c)| Motion::ALL.iter().map(move |&m| (s, c, m)))
            .flat_map(|(s, c, m)| Background::ALL.iter().map(move |&b| (s, c, m, b)))
            .filter(|&(s, c, m, b)| held_out(s, c, m, b))
            .count();
        assert!(held * 20 > combos && held * 5 < combos, "{held} of {combos} held out");
    }

    #[test]
    fn objects_enter_and_leave_across_the_edges_they_move_between() {
        let (mut enters, mut leaves) = (0, 0);
        for seed in 0..400 {
            let plain = Scene::sample(seed, Split::Train, 0.12);
            assert_eq!(Scene::sample_with_edges(seed, Split::Train, 0.12, 0.0), plain);
            let scene = Scene::sample_with_edges(seed, Split::Train, 0.12, 0.5);
            let o = scene.subject();
            // The same attributes are drawn; only the place along the path may change.
            let p = plain.subject();
            assert_eq!((o.shape, o.colour, o.size, o.motion, o.velocity), (p.shape, p.colour, p.size, p.motion, p.velocity));
            let Some((dx, dy)) = o.motion.direction() else {
                assert_ne!(scene.kind, Kind::Enters);
                assert_ne!(scene.kind, Kind::Leaves);
                continue;
            };
            // Where the object's centre is along its path, and whether any of it shows.
            let along = |t: f64| {
                let pose = o.pose(t);
                pose.x * dx + pose.y * dy
            };
            let shows = |t: f64| along(t).abs() < 0.5 + o.size.radius();
            let whole = |t: f64| along(t).abs() + o.size.radius() < 0.5;
            match scene.kind {
                Kind::Enters => {
                    enters += 1;
                    assert!(!shows(0.0) && along(0.0) < 0.0, "{o:?} is in view at the start");
                    assert!(whole(CLIP_SECONDS), "{o:?} is not in view at the end");
                }
                Kind::Leaves => {
                    leaves += 1;
                    assert!(whole(0.0) && along(0.0) > 0.0, "{o:?} does not start inside, ahead of the centre");
                    assert!(!shows(CLIP_SECONDS - 2.0 / 24.0), "{o:?} is still in view at the end");
                }
                _ => assert_eq!(o, p),
            }
        }
        assert!(enters > 25 && leaves > 25, "{enters} entering, {leaves} leaving");
    }

    #[test]
    fn a_reversed_translation_leaves_from_the_same_start() {
        let mut reversed = 0;
        for seed in 0..300 {
            let scene = Scene::sample(seed, Split::Train, 0.12);
            let o = scene.subject();
            let Some(twin) = scene.reversed() else {
                // Only encounters, motions without a direction, and reversals training must not see.
                if let (Kind::Single, Some((dx, dy))) = (&scene.kind, o.motion.direction()) {
                    let back = *Motion::ALL.iter().find(|m| m.direction() == Some((-dx, -dy))).unwrap();
                    assert!(held_out(o.shape, o.colour, back, scene.background), "{scene:?}");
                }
                continue;
            };
            reversed += 1;
            let t = twin.subject();
            let (a, b) = (o.motion.direction().unwrap(), t.motion.direction().unwrap());
            assert_eq!((a.0 + b.0, a.1 + b.1), (0.0, 0.0));
            assert_eq!(t.pose(0.0), o.pose(0.0), "the same start");
            let (p, q) = (o.pose(CLIP_SECONDS), t.pose(CLIP_SECONDS));
            assert!(q.x.abs().max(q.y.abs()) > p.x.abs().max(p.y.abs()) + 0.2, "{o:?} does not head out");
            assert!(!held_out(t.shape, t.colour, t.motion, twin.background));
            assert_eq!(twin.reversed().unwrap(), scene, "reversing twice is the identity");
        }
        assert!(reversed > 100, "{reversed} of 300 scenes reversed");
    }

    #[test]
    fn translations_stay_in_frame_for_a_clip() {
        for seed in 0..200 {
            let scene = Scene::sample(seed, Split::Train, 0.0);
            let o = scene.subject();
            for t in [0.0, 1.0, CLIP_SECONDS] {
                let p = o.pose(t);
                assert!(p.x.abs() + p.radius <= 0.5 + 1e-9 && p.y.abs() + p.radius <= 0.5 + 1e-9, "{o:?} at {t}: {p:?}");
            }
        }
    }
}
