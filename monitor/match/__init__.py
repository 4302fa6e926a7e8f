"""Watch rules, compiled once, matched against articles.

Every alias of every entity and every phrase of every rule goes into one Aho-Corasick automaton
(pyahocorasick) over `text.normalize`d text, so an article is read once whatever the number of
rules; each candidate is then checked for word boundaries, letter case and (for Arabic-script
names) attached proclitics. Then, in order:

1. an *ambiguous* alias of an entity (by default its acronym-like ones, when the entity has
   `context` or `exclude`) counts only with a `context` term within `context_window` words in
   the same field, and no `exclude` phrase within that window;
2. a hit inside a longer hit of another entity does not count ("Taliban" inside "Pakistani
   Taliban" is the TTP's);
3. each rule is judged on the hits: `all` / `any` / `none`, its `query`, its `feed_tags`.

A phrase matches whole words only; a possessive still matches (TTP's), a plural does not (TTPs).
A hyphen or space in a phrase matches a hyphen or whitespace. A name with no lower-case letter
and 2 to 6 letters (TTP, KP, IS-K), or a short mixed-case abbreviation (LeT, JeM), matches in
its own case only unless its entity says `case = "insensitive"`. `bomb*` is a prefix.
"""

from monitor.match.matcher import Matcher
from monitor.match.names import ambiguous_names, is_acronym, is_case_sensitive, is_mixed_abbreviation
from monitor.match.scan import Cancelled, Verdict

__all__ = ["Cancelled", "Matcher", "Verdict", "ambiguous_names", "is_acronym", "is_case_sensitive",
           "is_mixed_abbreviation"]
