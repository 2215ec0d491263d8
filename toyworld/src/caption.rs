//! Captions in varied natural language. Training captions draw from one set of templates and
//! words; paraphrases draw from a disjoint set (other sentence shapes, synonyms never used in
//! training), so an evaluation on paraphrases measures what the pretrained text encoder brings.

use crate::rng::Rng;
use crate::world::{Background, Colour, Kind, Motion, Object, Scene, Shape, Size};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptionStyle {
    Train,
    Paraphrase,
}

fn shape_words(shape: Shape, style: CaptionStyle) -> &'static [&'static str] {
    use CaptionStyle::*;
    match (shape, style) {
        (Shape::Circle, Train) => &["circle", "ball", "disc", "round circle"],
        (Shape::Square, Train) => &["square", "box", "square block"],
        (Shape::Triangle, Train) => &["triangle", "triangular shape"],
        (Shape::Star, Train) => &["star", "star shape"],
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
        (Colour::Red, Paraphrase) => &["crimson", "scarlet", "cherry-coloured"],
        (Colour::Green, Paraphrase) => &["emerald", "lime green", "grass-coloured"],
        (Colour::Blue, Paraphrase) => &["azure", "cobalt", "sapphire"],
        (Colour::Yellow, Paraphrase) => &["golden", "lemon-coloured", "canary"],
        (Colour::Purple, Paraphrase) => &["violet", "lavender", "plum-coloured"],
        (Colour::Orange, Paraphrase) => &["tangerine", "amber", "pumpkin-coloured"],
        (Colour::White, Paraphrase) => &["snow-white", "ivory", "milky"],
    }
}

fn background_words(bg: Background, style: CaptionStyle) -> &'static [&'static str] {
    use CaptionStyle::*;
    match (bg, style) {
        (Background::Black, Train) => &["a black background", "black", "a dark black backdrop"],
        (Background::Grey, Train) => &["a grey background", "grey", "a plain grey backdrop"],
        (Background::Navy, Train) => &["a navy background", "navy blue", "a dark blue backdrop"],
        (Background::Sand, Train) => &["a sand background", "sand", "a sandy beige backdrop"],
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
        (Size::Small, CaptionStyle::Paraphrase) => &["tiny", "petite", ""],
        (Size::Large, CaptionStyle::Paraphrase) => &["huge", "hefty", ""],
    }
}

fn noun_phrase(rng: &mut Rng, o: &Object, style: CaptionStyle, with_size: bool) -> String {
    let colour = rng.pick(colour_words(o.colour, style));
    let shape = rng.pick(shape_words(o.shape, style));
    let size = if with_size { *rng.pick(size_words(o.size, style)) } else { "" };
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
    let bg = *rng.pick(background_words(scene.background, style));
    // "on black" reads badly; bare colour words take "a ... background".
    let on_bg = if bg.contains(' ') { bg.to_string() } else { format!("a {bg} background") };
    match scene.kind {
        Kind::Single => {
            let o = scene.subject();
            let np = noun_phrase(&mut rng, o, style, true);
            let a = article(&np);
            let verb = rng.pick(motion_words(o.motion, style));
            let template = match style {
                CaptionStyle::Train => rng.below(5),
                CaptionStyle::Paraphrase => 5 + rng.below(4),
            };
            match template {
                0 => format!("{a} {np} {verb} on {on_bg}"),
                1 => format!("On {on_bg}, {a} {np} {verb}."),
                2 => format!("{a} {np} {verb} against {on_bg}"),
                3 => format!("{np} {verb}, {bg} background"),
                4 => format!("Video of {a} {np} that {verb} on {on_bg}."),
                5 => format!("Watch as {a} {np} {verb} in front of {on_bg}."),
                6 => format!("There is {a} {np} here; it {verb}. Behind it: {on_bg}."),
                7 => format!("Clip showing {on_bg} where {a} {np} {verb}"),
                _ => format!("{on_bg} with {a} {np} that {verb}"),
            }
        }
        Kind::Encounter => {
            let (a, b) = (&scene.objects[0], &scene.objects[1]);
            let na = noun_phrase(&mut rng, a, style, false);
            let nb = noun_phrase(&mut rng, b, style, false);
            let verb = match style {
                CaptionStyle::Train => *rng.pick(&["move towards each other", "pass each other", "cross paths"]),
                CaptionStyle::Paraphrase => *rng.pick(&["approach one another", "meet and go past each other"]),
            };
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
    fn paraphrase_vocabulary_is_disjoint_from_training() {
        let train: Vec<&str> = Colour::ALL
            .iter()
            .flat_map(|&c| colour_words(c, CaptionStyle::Train).iter().copied())
            .chain(Shape::ALL.iter().flat_map(|&s| shape_words(s, CaptionStyle::Train).iter().copied()))
            .chain(Motion::ALL.iter().flat_map(|&m| motion_words(m, CaptionStyle::Train).iter().copied()))
            .collect();
        for &c in &Colour::ALL {
            for w in colour_words(c, CaptionStyle::Paraphrase) {
                assert!(!train.contains(w), "{w}");
            }
        }
        for &m in &Motion::ALL {
            for w in motion_words(m, CaptionStyle::Paraphrase) {
                assert!(!train.contains(w), "{w}");
            }
        }
    }
}
