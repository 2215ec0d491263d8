//! Captions in varied natural language. Training captions draw from one set of templates and
//! words; paraphrases draw from a disjoint set (other sentence shapes, synonyms never used in
//! training), so an evaluation on paraphrases measures what the pretrained text encoder brings.
//! The wide training style adds more synonyms, still disjoint from the paraphrases: a model that
//! has met one colour under several names has to read the encoder's sense of a word, not which
//! word it was, and that sense is what a paraphrase shares with them.

use crate::rng::Rng;
use crate::world::{Background, Colour, Kind, Motion, Object, Scene, Shape, Size};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptionStyle {
    /// The training vocabulary runs 1-3 of the embedded model learnt from.
    Train,
    /// [`CaptionStyle::Train`]'s words and templates and as many synonyms again.
    TrainWide,
    Paraphrase,
}

/// The words `style` draws from one of the tables below. A table's `TrainWide` entries hold only
/// what the wide style adds to `Train`'s, so the two cannot drift apart; `Train`'s come first, so
/// a seed picks the same words whichever way the wide list is built.
fn words(style: CaptionStyle, table: impl Fn(CaptionStyle) -> &'static [&'static str]) -> Vec<&'static str> {
    match style {
        CaptionStyle::TrainWide => [table(CaptionStyle::Train), table(CaptionStyle::TrainWide)].concat(),
        _ => table(style).to_vec(),
    }
}

fn shape_words(shape: Shape, style: CaptionStyle) -> &'static [&'static str] {
    use CaptionStyle::*;
    match (shape, style) {
        (Shape::Circle, Train) => &["circle", "ball", "disc", "round circle"],
        (Shape::Square, Train) => &["square", "box", "square block"],
        (Shape::Triangle, Train) => &["triangle", "triangular shape"],
        (Shape::Star, Train) => &["star", "star shape"],
        (Shape::Circle, TrainWide) => &["bubble", "round shape"],
        (Shape::Square, TrainWide) => &["block", "crate"],
        (Shape::Triangle, TrainWide) => &["arrowhead", "delta"],
        (Shape::Star, TrainWide) => &["pentagram", "spiky shape"],
        (Shape::Circle, Paraphrase) => &["round dot", "orb", "sphere"],
        (Shape::Square, Paraphrase) => &["cube", "quadrilateral with equal sides", "tile"],
        (Shape::Triangle, Paraphrase) => &["three-sided shape", "pyramid", "wedge"],
        (Shape::Star, Paraphrase) => &["five-pointed star", "starburst", "twinkling star"],
    }
}

fn colour_words(colour: Colour, style: CaptionStyle) -> &'static [&'static str] {
    use CaptionStyle::*;
    match (colour, style) {
        (Colour::Red, Train) => &["red", "bright red"],
        (Colour::Green, Train) => &["green", "bright green"],
        (Colour::Blue, Train) => &["blue", "bright blue"],
        (Colour::Yellow, Train) => &["yellow", "bright yellow"],
        (Colour::Purple, Train) => &["purple", "deep purple"],
        (Colour::Orange, Train) => &["orange", "bright orange"],
        (Colour::White, Train) => &["white", "pure white"],
        (Colour::Red, TrainWide) => &["ruby", "blood-red", "tomato-red"],
        (Colour::Green, TrainWide) => &["jade", "leaf-green", "forest green"],
        (Colour::Blue, TrainWide) => &["sky-blue", "royal blue", "cerulean"],
        (Colour::Yellow, TrainWide) => &["mustard", "banana-yellow", "sunflower-yellow"],
        (Colour::Purple, TrainWide) => &["mauve", "lilac", "amethyst"],
        (Colour::Orange, TrainWide) => &["apricot", "carrot-orange", "copper"],
        (Colour::White, TrainWide) => &["chalk-white", "pearl", "bone-white"],
        (Colour::Red, Paraphrase) => &["crimson", "scarlet", "cherry-coloured"],
        (Colour::Green, Paraphrase) => &["emerald", "lime green", "grass-coloured"],
        (Colour::Blue, Paraphrase) => &["azure", "cobalt", "sapphire"],
        (Colour::Yellow, Paraphrase) => &["golden", "lemon-coloured", "canary"],
        (Colour::Purple, Paraphrase) => &["violet", "lavender", "plum-coloured"],
        (Colour::Orange, Paraphrase) => &["tangerine", "amber", "pumpkin-coloured"],
        (Colour::White, Paraphrase) => &["snow-white", "ivory", "milky"],
    }
}

/// The names `style` gives `colour`.
pub fn colour_names(colour: Colour, style: CaptionStyle) -> Vec<&'static str> {
    words(style, |s| colour_words(colour, s))
}

fn background_words(bg: Background, style: CaptionStyle) -> &'static [&'static str] {
    use CaptionStyle::*;
    match (bg, style) {
        (Background::Black, Train) => &["a black background", "black", "a dark black backdrop"],
        (Background::Grey, Train) => &["a grey background", "grey", "a plain grey backdrop"],
        (Background::Navy, Train) => &["a navy background", "navy blue", "a dark blue backdrop"],
        (Background::Sand, Train) => &["a sand background", "sand", "a sandy beige backdrop"],
        (Background::Black, TrainWide) => &["a coal-black backdrop", "a dark void"],
        (Background::Grey, TrainWide) => &["a silver-grey backdrop", "a neutral grey backdrop"],
        (Background::Navy, TrainWide) => &["a deep navy backdrop", "a marine-blue backdrop"],
        (Background::Sand, TrainWide) => &["a khaki backdrop", "a dune-coloured backdrop"],
        (Background::Black, Paraphrase) => &["pitch darkness", "a jet-black field", "an ink-black canvas"],
        (Background::Grey, Paraphrase) => &["a gray canvas", "a slate-coloured field", "an ash-gray wall"],
        (Background::Navy, Paraphrase) => &["a midnight-blue canvas", "a deep indigo field", "a dark ocean-blue wall"],
        (Background::Sand, Paraphrase) => &["a beige canvas", "a tan field", "a desert-coloured wall"],
    }
}

fn motion_words(motion: Motion, style: CaptionStyle) -> &'static [&'static str] {
    use CaptionStyle::*;
    match (motion, style) {
        (Motion::Left, Train) => &["moves to the left", "slides left", "travels from right to left", "drifts leftwards"],
        (Motion::Right, Train) => &["moves to the right", "slides right", "travels from left to right", "drifts rightwards"],
        (Motion::Up, Train) => &["moves up", "slides upwards", "travels from bottom to top", "drifts up"],
        (Motion::Down, Train) => &["moves down", "slides downwards", "travels from top to bottom", "drifts down"],
        (Motion::Grow, Train) => &["grows", "grows larger", "gets bigger and bigger", "expands"],
        (Motion::Shrink, Train) => &["shrinks", "gets smaller", "shrinks steadily", "becomes smaller"],
        (Motion::Rotate, Train) => &["rotates", "spins in place", "rotates slowly", "turns around its centre"],
        (Motion::Bounce, Train) => &["bounces", "bounces up and down", "keeps bouncing", "bounces on the floor"],
        (Motion::Left, TrainWide) => &["goes left", "shifts to the left"],
        (Motion::Right, TrainWide) => &["goes right", "shifts to the right"],
        (Motion::Up, TrainWide) => &["climbs", "goes up"],
        (Motion::Down, TrainWide) => &["drops", "goes down"],
        (Motion::Grow, TrainWide) => &["enlarges", "scales up"],
        (Motion::Shrink, TrainWide) => &["scales down", "diminishes"],
        (Motion::Rotate, TrainWide) => &["spins", "whirls around"],
        (Motion::Bounce, TrainWide) => &["bobs", "rebounds off the floor"],
        (Motion::Left, Paraphrase) => &["heads toward the left edge", "glides westward", "makes its way leftward"],
        (Motion::Right, Paraphrase) => &["heads toward the right edge", "glides eastward", "makes its way rightward"],
        (Motion::Up, Paraphrase) => &["rises", "floats toward the top", "ascends"],
        (Motion::Down, Paraphrase) => &["sinks", "falls toward the bottom", "descends"],
        (Motion::Grow, Paraphrase) => &["swells", "inflates", "increases in size"],
        (Motion::Shrink, Paraphrase) => &["dwindles", "contracts", "decreases in size"],
        (Motion::Rotate, Paraphrase) => &["twirls", "pivots on the spot", "revolves"],
        (Motion::Bounce, Paraphrase) => &["hops up and down", "jumps repeatedly", "springs up and down"],
    }
}

fn size_words(size: Size, style: CaptionStyle) -> &'static [&'static str] {
    match (size, style) {
        (Size::Small, CaptionStyle::Train) => &["small", "little", ""],
        (Size::Large, CaptionStyle::Train) => &["large", "big", ""],
        (Size::Small, CaptionStyle::TrainWide) => &["mini", "compact"],
        (Size::Large, CaptionStyle::TrainWide) => &["giant", "oversized"],
        (Size::Small, CaptionStyle::Paraphrase) => &["tiny", "petite", ""],
        (Size::Large, CaptionStyle::Paraphrase) => &["huge", "hefty", ""],
    }
}

fn encounter_words(style: CaptionStyle) -> &'static [&'static str] {
    match style {
        CaptionStyle::Train => &["move towards each other", "pass each other", "cross paths"],
        CaptionStyle::TrainWide => &["slide past each other"],
        CaptionStyle::Paraphrase => &["approach one another", "meet and go past each other"],
    }
}

/// Verb phrases for an object entering the frame (`{}`: where it comes from, "the left" for
/// one moving right) or leaving it (`{}`: where it goes, "through the top" for one moving up).
fn edge_words(kind: &Kind, style: CaptionStyle) -> &'static [&'static str] {
    use CaptionStyle::*;
    match (kind, style) {
        (Kind::Enters, Train) => &["enters from {}", "comes in from {}", "slides in from {}"],
        (Kind::Leaves, Train) => &["leaves {}", "exits {}", "slides out {}"],
        (Kind::Enters, TrainWide) => &["moves into view from {}"],
        (Kind::Leaves, TrainWide) => &["moves out of view {}"],
        (Kind::Enters, Paraphrase) => &["emerges into the picture from {}", "makes its entrance from {}"],
        (Kind::Leaves, Paraphrase) => &["disappears out of the picture {}", "departs the scene {}"],
        _ => &[],
    }
}

/// Where an object moving in `motion`'s direction enters from, and where it leaves.
fn edge_sides(motion: Motion) -> (&'static str, &'static str) {
    match motion {
        Motion::Left => ("the right", "to the left"),
        Motion::Right => ("the left", "to the right"),
        Motion::Up => ("below", "through the top"),
        _ => ("above", "through the bottom"),
    }
}

fn noun_phrase(rng: &mut Rng, o: &Object, style: CaptionStyle, with_size: bool) -> String {
    let colour = *rng.pick(&words(style, |s| colour_words(o.colour, s)));
    let shape = *rng.pick(&words(style, |s| shape_words(o.shape, s)));
    let size = if with_size { *rng.pick(&words(style, |s| size_words(o.size, s))) } else { "" };
    let words: Vec<&str> = [size, colour, shape].into_iter().filter(|w| !w.is_empty()).collect();
    words.join(" ")
}

fn article(phrase: &str) -> &'static str {
    match phrase.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// A caption for `scene` in `style`; `seed` picks the template and words.
pub fn caption(scene: &Scene, style: CaptionStyle, seed: u64) -> String {
    let mut rng = Rng::new(seed ^ 0xCA97_1015);
    let bg = *rng.pick(&words(style, |s| background_words(scene.background, s)));
    // "on black" reads badly; bare colour words take "a ... background".
    let on_bg = if bg.contains(' ') { bg.to_string() } else { format!("a {bg} background") };
    match scene.kind {
        Kind::Single | Kind::Enters | Kind::Leaves => {
            let o = scene.subject();
            let np = noun_phrase(&mut rng, o, style, true);
            let a = article(&np);
            let verb = if scene.kind == Kind::Single {
                rng.pick(&words(style, |s| motion_words(o.motion, s))).to_string()
            } else {
                let (from, to) = edge_sides(o.motion);
                let side = if scene.kind == Kind::Enters { from } else { to };
                rng.pick(&words(style, |s| edge_words(&scene.kind, s))).replace("{}", side)
            };
            let template = match style {
                CaptionStyle::Train => rng.below(5),
                CaptionStyle::TrainWide => [0, 1, 2, 3, 4, 9, 10][rng.below(7)],
                CaptionStyle::Paraphrase => 5 + rng.below(4),
            };
            match template {
                0 => format!("{a} {np} {verb} on {on_bg}"),
                1 => format!("On {on_bg}, {a} {np} {verb}."),
                2 => format!("{a} {np} {verb} against {on_bg}"),
                3 => format!("{np} {verb}, {on_bg}"),
                4 => format!("Video of {a} {np} that {verb} on {on_bg}."),
                5 => format!("Watch as {a} {np} {verb} in front of {on_bg}."),
                6 => format!("There is {a} {np} here; it {verb}. Behind it: {on_bg}."),
                7 => format!("Clip showing {on_bg} where {a} {np} {verb}"),
                8 => format!("{on_bg} with {a} {np} that {verb}"),
                9 => format!("Animation: {a} {np} {verb} over {on_bg}."),
                _ => format!("Scene: the {np} {verb} on {on_bg}"),
            }
        }
        Kind::Encounter => {
            let (a, b) = (&scene.objects[0], &scene.objects[1]);
            let na = noun_phrase(&mut rng, a, style, false);
            let nb = noun_phrase(&mut rng, b, style, false);
            let verb = *rng.pick(&words(style, encounter_words));
            format!("{} {na} and {} {nb} {verb} on {on_bg}", article(&na), article(&nb))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::Split;

    #[test]
    fn captions_name_every_attribute_and_vary() {
        let scene = Scene::sample(3, Split::Train, 0.0);
        let o = scene.subject();
        let captions: std::collections::BTreeSet<String> =
            (0..40).map(|s| caption(&scene, CaptionStyle::Train, s)).collect();
        assert!(captions.len() > 10, "{captions:?}");
        for c in &captions {
            assert!(colour_words(o.colour, CaptionStyle::Train).iter().any(|w| c.contains(w)), "{c}");
            assert!(shape_words(o.shape, CaptionStyle::Train).iter().any(|w| c.contains(w)), "{c}");
        }
    }

    #[test]
    fn entering_and_leaving_captions_name_the_edge() {
        let mut seen = 0;
        for seed in 0..300 {
            let scene = Scene::sample_with_edges(seed, Split::Train, 0.0, 1.0);
            let (from, to) = edge_sides(scene.subject().motion);
            for style in [CaptionStyle::Train, CaptionStyle::TrainWide, CaptionStyle::Paraphrase] {
                let c = caption(&scene, style, seed);
                match scene.kind {
                    Kind::Enters => assert!(c.contains(&format!("from {from}")), "{c}"),
                    Kind::Leaves => assert!(c.contains(to), "{c}"),
                    _ => continue,
                }
                assert!(!c.contains("{}"), "{c}");
                seen += 1;
            }
        }
        assert!(seen > 300, "{seen}");
    }

    /// Template 3 once wrote "{bg} background" after a phrase that may already name it ("a black
    /// background background"); runs 1-5 of the embedded model were trained on such captions.
    #[test]
    fn no_caption_names_the_background_twice() {
        for seed in 0..200 {
            let scene = Scene::sample(seed, Split::Train, 0.12);
            for style in [CaptionStyle::Train, CaptionStyle::TrainWide, CaptionStyle::Paraphrase] {
                for k in 0..12 {
                    let c = caption(&scene, style, k);
                    let named: usize =
                        ["background", "backdrop", "canvas", "field", "wall"].iter().map(|w| c.matches(w).count()).sum();
                    assert!(named <= 1, "{c}");
                }
            }
        }
    }

    /// Every word list of one style, attribute by attribute.
    fn vocabulary(style: CaptionStyle) -> Vec<Vec<&'static str>> {
        let mut lists: Vec<Vec<&str>> = Vec::new();
        lists.extend(Shape::ALL.iter().map(|&x| words(style, |s| shape_words(x, s))));
        lists.extend(Colour::ALL.iter().map(|&x| words(style, |s| colour_words(x, s))));
        lists.extend(Background::ALL.iter().map(|&x| words(style, |s| background_words(x, s))));
        lists.extend(Motion::ALL.iter().map(|&x| words(style, |s| motion_words(x, s))));
        lists.extend(Size::ALL.iter().map(|&x| words(style, |s| size_words(x, s))));
        lists.push(words(style, encounter_words));
        lists.extend([Kind::Enters, Kind::Leaves].iter().map(|k| words(style, |s| edge_words(k, s))));
        lists
    }

    #[test]
    fn paraphrase_vocabulary_is_disjoint_from_training() {
        let paraphrase: Vec<&str> = vocabulary(CaptionStyle::Paraphrase).concat();
        for style in [CaptionStyle::Train, CaptionStyle::TrainWide] {
            for w in vocabulary(style).concat() {
                assert!(w.is_empty() || !paraphrase.contains(&w), "{w:?} is in {style:?} and the paraphrases");
            }
        }
    }

    #[test]
    fn the_wide_vocabulary_extends_the_training_one_without_ambiguity() {
        let (base, wide) = (vocabulary(CaptionStyle::Train), vocabulary(CaptionStyle::TrainWide));
        for (b, w) in base.iter().zip(&wide) {
            assert!(b.iter().all(|x| w.contains(x)), "{b:?} not within {w:?}");
            assert!(w.len() > b.len(), "{w:?} adds nothing");
        }
        // A word naming two values of one attribute would teach the model nothing.
        let all = wide.concat();
        for (i, x) in all.iter().enumerate() {
            assert!(x.is_empty() || !all[i + 1..].contains(x), "{x:?} appears twice");
        }
    }
}
