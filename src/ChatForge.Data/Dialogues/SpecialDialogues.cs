using ChatForge.Data.Build;
using ChatForge.Data.Parsers;
using ChatForge.Data.Text;

namespace ChatForge.Data.Dialogues;

/// <summary>Dialogues that are not one fact: identity, greetings, "I don't know", multi-turn follow-ups, and long answers resumed on "继续".</summary>
public sealed class SpecialDialogues(Knowledge knowledge, List<Fact> keptFacts)
{
    /// <summary>Length cap of one assistant turn in the "continue" dialogues (characters; Chinese ≈ 1 token each, English ≈ 4 per token).</summary>
    public const int CapZh = FactGenerator.RecitationCap, CapEn = 360;

    static string Id(string task, string key) => $"{task}-{StableHash.Fnv1a(key):x16}";

    // ---------- identity and greetings ----------

    static string IdentityAnswer(string prompt, string lang, StableRandom rng)
    {
        string p = prompt.ToLowerInvariant();
        if (lang == "zh")
        {
            if (p.Contains("上网") || p.Contains("新闻")) return "我不能上网，也不知道实时的新闻。我只知道训练时学到的内容：常用词语、唐诗、各国首都和简单的算术。";
            if (p.Contains("chatgpt") || p.Contains("公司") || p.Contains("模型")) return "我是 ChatForge，一个用 C# 从零训练的小型语言模型，不是 ChatGPT。我的参数只有几千万，所以知识有限。";
            if (p.Contains("能做") || p.Contains("会些") || p.Contains("擅长") || p.Contains("帮我")) return "我可以解释常用的中文和英文词语、做中英互译、回答各国首都、背唐诗三百首、接诗句，还能做简单的算术。别的问题我可能答不好，不知道的我会直说。";
            if (p.Contains("局限") || p.Contains("多大")) return "我是一个只有几千万参数的小模型：知道几千个常用词、唐诗三百首和世界各国的基本信息。我不能上网，不知道最新的事情，也可能出错。";
            if (p.Contains("知识")) return "我的知识来自公开的资料：CC-CEDICT 词典、WordNet、唐诗宋词、世界国家数据等。训练之后发生的事情我都不知道。";
            if (p.Contains("英语")) return "会的，我能用中文和英文交流，不过我是个小模型，说得比较简单。";
            if (p.Contains("人") || p.Contains("机器")) return "我不是真人，我是 ChatForge，一个小型的 AI 语言模型。";
            return rng.Pick(new[] { "我是 ChatForge，一个小型的中英双语助手。我知道常用词语、唐诗、各国首都，也会简单的算术；不知道的事情我会告诉你我不知道。",
                "你好，我是 ChatForge。我是一个小模型，能回答一些简单的问题，比如词语的意思、中英翻译、首都和唐诗。" });
        }
        if (p.Contains("internet") || p.Contains("news")) return "I can't browse the internet and I don't know current news. I only know what I learned in training: common words, Tang poems, countries and capitals, and simple arithmetic.";
        if (p.Contains("chatgpt") || p.Contains("made") || p.Contains("model")) return "I'm ChatForge, a small language model trained from scratch in C#. I'm not ChatGPT, and with only tens of millions of parameters my knowledge is limited.";
        if (p.Contains("can you do") || p.Contains("good at") || p.Contains("help")) return "I can explain common English and Chinese words, translate between Chinese and English, tell you capitals of countries, recite and complete Tang poems, and do simple arithmetic. If I don't know something, I'll say so.";
        if (p.Contains("limitation") || p.Contains("how big") || p.Contains("know about you")) return "I'm a small model with tens of millions of parameters. I know a few thousand common words, the 300 Tang poems and basic facts about countries. I can't browse the internet, I don't know recent events, and I can make mistakes.";
        if (p.Contains("knowledge")) return "My knowledge comes from public sources: the CC-CEDICT dictionary, WordNet, classical Chinese poetry and world country data. I know nothing that happened after my training.";
        if (p.Contains("chinese")) return "Yes, I can talk in Chinese and English, though as a small model I keep things simple.";
        if (p.Contains("human") || p.Contains("person") || p.Contains("robot")) return "I'm not a person. I'm ChatForge, a small AI language model.";
        return rng.Pick(new[] { "I'm ChatForge, a small bilingual (Chinese/English) assistant. I know common words, Tang poems, capitals and simple arithmetic, and I'll tell you when I don't know something.",
            "Hi, I'm ChatForge, a small language model. I can answer simple questions about words, translation, countries and Chinese poems." });
    }

    static string GreetingAnswer(string prompt, string lang, StableRandom rng)
    {
        string p = prompt.ToLowerInvariant();
        if (lang == "zh")
        {
            if (p.Contains("谢") || p.Contains("辛苦")) return rng.Pick(new[] { "不客气！还有什么可以帮你的吗？", "不用谢，很高兴能帮上忙。" });
            if (p.Contains("再见") || p.Contains("拜") || p.Contains("晚安") || p.Contains("明天见")) return rng.Pick(new[] { "再见！有问题随时来找我。", "好的，再见！" });
            return rng.Pick(new[] { "你好！我是 ChatForge，有什么可以帮你的？", "你好！想问点什么？比如词语的意思、中英翻译、首都或者唐诗。" });
        }
        if (p.Contains("thank") || p.Contains("appreciated") || p.Contains("cheers")) return rng.Pick(new[] { "You're welcome! Anything else I can help with?", "Glad I could help." });
        if (p.Contains("bye") || p.Contains("night") || p.Contains("see you")) return rng.Pick(new[] { "Goodbye! Come back any time.", "Bye! Have a good day." });
        if (p.Contains("how are you")) return "I'm doing well, thanks for asking. What can I help you with?";
        return rng.Pick(new[] { "Hello! I'm ChatForge. How can I help you?", "Hi! Ask me about words, translations, capitals or Chinese poems." });
    }

    public IEnumerable<SftRecord> Identity() => Fixed("identity", IdentityAnswer, 4);
    public IEnumerable<SftRecord> Greetings() => Fixed("greeting", GreetingAnswer, 3);

    IEnumerable<SftRecord> Fixed(string task, Func<string, string, StableRandom, string> answer, int copies)
    {
        foreach (var lang in new[] { "zh", "en" })
            foreach (var prompt in Templates.Prompts[(task, lang)])
                for (int c = 0; c < copies; c++)
                {
                    var rng = new StableRandom($"{task}:{lang}:{prompt}:{c}");
                    yield return new SftRecord(Id(task, $"{lang}:{prompt}:{c}"), task, lang, DialogueBuilder.WithSystem(lang, rng, [new("user", prompt), new("assistant", answer(prompt, lang, rng))]));
                }
    }

    // ---------- "I don't know" ----------

    static readonly string[] RefuseWordZh = ["抱歉，我不知道“{word}”是什么意思。这个词不在我学过的词语里。", "我不认识“{word}”这个词，没法告诉你它的意思，建议查一下词典。", "对不起，我不清楚“{word}”的意思。我是个小模型，只认识常用的词。"];
    static readonly string[] RefuseWordEn = ["Sorry, I don't know what {word} means. It isn't one of the words I learned.", "I don't know the word {word}, so I can't tell you what it means. A dictionary would help.", "I'm not sure what {word} means; I only know common words."];
    static readonly string[] RefuseCountryZh = ["我不知道有叫“{country}”的国家，所以说不出它的首都。", "抱歉，我不了解“{country}”，不知道它的首都。"];
    static readonly string[] RefuseCountryEn = ["I don't know of a country called {country}, so I can't tell you its capital.", "Sorry, I don't have any information about {country} or its capital."];
    static readonly string[] RefuseRealtimeZh = ["抱歉，我不知道。我不能上网，也没有实时信息或你的个人信息。", "这个我不知道：我只有训练时学到的知识，查不到实时的或个人的信息。"];
    static readonly string[] RefuseRealtimeEn = ["Sorry, I don't know. I can't access the internet, real-time information or your personal data.", "I don't know that: I only have what I learned in training and can't look up live or personal information."];
    static readonly string[] HedgeZh = ["“{word}”可能是“{gloss}”的意思，不过我不太确定。"];
    static readonly string[] HedgeEn = ["{word} might mean \"{gloss}\", but I'm not sure."];

    /// <summary>
    /// A refusal to a question the model was taught the answer to, for the rankings of known facts: the reward model must
    /// learn that "I don't know" is right only for what lies outside the domain, or PPO learns to refuse everything
    /// (the third training run's PPO policy refused 85% of held-out questions). A third of them are short, a third the long
    /// refusals SFT teaches for unknown words and countries filled in with this fact's own word or country, a third other
    /// long ones: PPO against the likelihood reward model found that a long refusal of a known fact, which the rankings
    /// had never shown, scored above a wrong attempt (run v4 at β 0.05 refused 84% of held-out questions, at β 0.2 13.5%).
    /// A fact with neither a word nor a country (poems, arithmetic) gets another long one instead of its own-subject refusal.
    /// </summary>
    public static string DeclineKnown(Fact f, StableRandom rng)
    {
        bool zh = f.Lang == "zh";
        switch (rng.Next(3))
        {
            case 0: return DeclineShort(f.Lang, rng);
            case 1:
                var subject = f.Task == "capital" ? ("country", f.Q["country"])
                    : f.Q.TryGetValue("word", out var w) ? ("word", w)
                    : f.Task == "translate_en_zh" ? ("word", f.Q["gloss"]) : default;
                if (subject != default)
                {
                    var templates = subject.Item1 == "country" ? (zh ? RefuseCountryZh : RefuseCountryEn) : (zh ? RefuseWordZh : RefuseWordEn);
                    return Templates.Render(rng.Pick(templates), new Dictionary<string, string> { [subject.Item1] = subject.Item2 });
                }
                goto default;
            default: return rng.Pick(zh ? DeclineLongZh : DeclineLongEn);
        }
    }
    static readonly string[] DeclineKnownZh = ["抱歉，我不知道。", "这个我不知道。", "对不起，我不清楚这个问题的答案。"];
    static readonly string[] DeclineKnownEn = ["Sorry, I don't know.", "I don't know the answer to that.", "I'm not sure, sorry."];
    static readonly string[] DeclineLongZh = [.. RefuseRealtimeZh, "抱歉，这个我不知道。我没有学过相关的内容，没法回答你。", "这个问题我不清楚，不想乱猜，建议你查一下资料。"];
    static readonly string[] DeclineLongEn = [.. RefuseRealtimeEn, "Sorry, I don't know the answer to that. It isn't something I learned, so I can't tell you.", "I'm not sure about that one, and I don't want to guess. You could look it up."];

    /// <summary>A short generic refusal, for a fact whose own-subject refusal would contain an accepted answer (Singapore's capital).</summary>
    public static string DeclineShort(string lang, StableRandom rng) => rng.Pick(lang == "zh" ? DeclineKnownZh : DeclineKnownEn);

    /// <summary>Canonical refusals: the accepted answers of the "absent" evaluation set (AnswerMatcher.IsRefusal recognises the rest).</summary>
    public static readonly string[] Refusals = ["我不知道", "I don't know"];

    /// <summary>Invented country names (checked against every real name) for questions that have no true answer.</summary>
    public List<(string Zh, string En)> FakeCountries(int count, string salt)
    {
        string[] zhSyl = ["阿", "巴", "卡", "达", "拉", "马", "纳", "萨", "塔", "瓦", "尔", "利", "斯", "诺", "维", "克", "特", "兰", "索", "洛"];
        string[] enSyl = ["a", "ba", "ka", "da", "la", "ma", "na", "sa", "ta", "va", "r", "li", "s", "no", "vi", "k", "te", "lan", "so", "lo"];
        var realZh = knowledge.Countries.Select(c => c.NameZh).ToHashSet();
        var realEn = knowledge.Countries.Select(c => c.NameEn.ToLowerInvariant()).ToHashSet();
        var cedict = knowledge.Cedict.Select(e => e.Simplified).ToHashSet();
        var result = new List<(string, string)>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; result.Count < count && i < count * 20; i++)
        {
            var rng = new StableRandom($"fake:{salt}:{i}");
            int n = rng.Next(2, 4);
            var idx = Enumerable.Range(0, n).Select(_ => rng.Next(zhSyl.Length)).ToList();
            string zh = string.Concat(idx.Select(j => zhSyl[j])) + (rng.Next(2) == 0 ? "亚" : "尼亚");
            string en = string.Concat(idx.Select(j => enSyl[j])) + "nia";
            en = char.ToUpperInvariant(en[0]) + en[1..];
            if (realZh.Contains(zh) || realEn.Contains(en.ToLowerInvariant()) || cedict.Contains(zh) || seen.Contains(zh) || seen.Contains(en)) continue;
            seen.Add(zh); seen.Add(en);
            result.Add((zh, en));
        }
        return result;
    }

    public (List<SftRecord> Sft, List<RankingRecord> Rankings, List<EvalRecord> Eval) Unknown(Dictionary<string, List<Fact>> byLang)
    {
        var sft = new List<SftRecord>();
        var rankings = new List<RankingRecord>();
        var eval = new List<EvalRecord>();
        var hskGlosses = knowledge.ZhWords.Select(w => w.Glosses[0]).ToList();
        // Half the absent words teach the refusal in SFT; the other half measure it in eval. Neither half is in the corpus.
        foreach (var e in knowledge.AbsentWords)
        {
            bool forEval = StableHash.Unit(e.Simplified, "absent-eval") < 0.5;
            foreach (var lang in new[] { "zh", "en" })
            {
                var rng = new StableRandom($"absent:{lang}:{e.Simplified}");
                var task = rng.Next(2) == 0 ? "word_meaning" : "translate_zh_en";
                if (lang == "en") task = "translate_zh_en";
                var prompt = Templates.Render(rng.Pick(Templates.Prompts[(task, lang)]), new Dictionary<string, string> { ["word"] = e.Simplified });
                var messages = new List<ChatTurn> { new("user", prompt) };
                if (forEval)
                {
                    eval.Add(new EvalRecord(Id("unknown", $"eval:{lang}:{e.Simplified}"), "unknown_word", lang, "absent", messages, Refusals, Cedict.AnswerGlosses(e)));
                    continue;
                }
                var v = new Dictionary<string, string> { ["word"] = e.Simplified, ["gloss"] = rng.Pick(hskGlosses), ["pinyin"] = Cedict.ToneMarks(e.Pinyin) };
                var refusal = Templates.Render(rng.Pick(lang == "zh" ? RefuseWordZh : RefuseWordEn), v);
                sft.Add(new SftRecord(Id("unknown", $"{lang}:{e.Simplified}"), "unknown", lang, DialogueBuilder.WithSystem(lang, rng, [.. messages, new("assistant", refusal)])));
                // Rankings: an honest "I don't know" beats a hedged guess, which beats a confident invention, which beats an off-topic answer.
                var hedge = Templates.Render(rng.Pick(lang == "zh" ? HedgeZh : HedgeEn), v);
                var invented = Templates.Render(rng.Pick(Templates.Answers[("translate_zh_en", lang)]), v);
                var offTopicPool = byLang[lang].Where(f => f.Task is "capital" or "poem_author" or "arithmetic").ToList();
                var offTopic = offTopicPool[rng.Next(offTopicPool.Count)];
                rankings.Add(new RankingRecord(Id("unknown", $"rank:{lang}:{e.Simplified}"), "unknown", lang, messages,
                    [refusal, hedge, invented, DialogueBuilder.Answer(offTopic, offTopic.A, rng)]));
            }
        }
        var fakes = FakeCountries(240, "countries");
        for (int i = 0; i < fakes.Count; i++)
        {
            bool forEval = i % 3 == 0;
            foreach (var lang in new[] { "zh", "en" })
            {
                var rng = new StableRandom($"fake:{lang}:{i}");
                var name = lang == "zh" ? fakes[i].Zh : fakes[i].En;
                var v = new Dictionary<string, string> { ["country"] = name };
                var messages = new List<ChatTurn> { new("user", Templates.Render(rng.Pick(Templates.Prompts[("capital", lang)]), v)) };
                if (forEval) { eval.Add(new EvalRecord(Id("unknown", $"eval-fake:{lang}:{name}"), "unknown_country", lang, "absent", messages, Refusals)); continue; }
                sft.Add(new SftRecord(Id("unknown", $"fake:{lang}:{name}"), "unknown", lang,
                    DialogueBuilder.WithSystem(lang, rng, [.. messages, new("assistant", Templates.Render(rng.Pick(lang == "zh" ? RefuseCountryZh : RefuseCountryEn), v))])));
            }
        }
        foreach (var lang in new[] { "zh", "en" })
            foreach (var prompt in Templates.Prompts[("unknown", lang)])
                for (int c = 0; c < 4; c++)
                {
                    var rng = new StableRandom($"realtime:{lang}:{prompt}:{c}");
                    sft.Add(new SftRecord(Id("unknown", $"rt:{lang}:{prompt}:{c}"), "unknown", lang,
                        DialogueBuilder.WithSystem(lang, rng, [new("user", prompt), new("assistant", rng.Pick(lang == "zh" ? RefuseRealtimeZh : RefuseRealtimeEn))])));
                }
        return (sft, rankings, eval);
    }

    // ---------- multi-turn follow-ups ----------

    /// <summary>
    /// One two-turn dialogue: the first fact's question and gold answer, then a follow-up that only makes sense after it.
    /// Kind names the follow-up (antonym, english, chinese, capital); Accepted holds the short answers that answer it.
    /// </summary>
    sealed record Followup(Fact First, string Kind, string SecondAnswer, string[] Asks, IReadOnlyList<string> Accepted);

    /// <summary>The SFT follow-ups, built on the facts kept for training.</summary>
    public IEnumerable<SftRecord> Followups() => FollowupsOf(keptFacts).Select(Two);

    /// <summary>
    /// The follow-up evaluation set (eval/followup.jsonl), built like the SFT follow-ups but on held-out facts: the first
    /// question, its gold answer as the assistant turn, then the follow-up question, whose accepted answers are the entity
    /// asked for (the antonym, the capital, the name in the other language), not the templated sentence.
    /// </summary>
    public IEnumerable<EvalRecord> FollowupEval(IEnumerable<Fact> heldOutFacts)
    {
        foreach (var f in FollowupsOf(heldOutFacts))
        {
            var rng = new StableRandom(f.First.Id + "#followup-eval");
            var turns = new List<ChatTurn>
            {
                new("user", DialogueBuilder.Prompt(f.First, rng)), new("assistant", DialogueBuilder.Answer(f.First, f.First.A, rng)),
                new("user", rng.Pick(f.Asks)),
            };
            yield return new EvalRecord(Id("followup", "eval:" + f.First.Id), "followup_" + f.Kind, f.First.Lang, "followup", turns, f.Accepted);
        }
    }

    IEnumerable<Followup> FollowupsOf(IEnumerable<Fact> source)
    {
        var zhFollow = Templates.Prompts[("followup", "zh")];
        var enFollow = Templates.Prompts[("followup", "en")];
        string[] zhAntonymAsk = zhFollow[..8], zhEnglishAsk = zhFollow[8..16], zhChineseAsk = zhFollow[16..20], zhCapitalAsk = zhFollow[20..];
        string[] enAntonymAsk = enFollow[..8], enEnglishAsk = enFollow[8..13], enChineseAsk = enFollow[13..18], enCapitalAsk = enFollow[18..];
        var facts = source.ToLookup(f => (f.Task, f.Lang));
        var antonymZh = facts[("antonym", "zh")].ToDictionary(f => f.Q["word"]);
        var antonymEn = facts[("antonym", "en")].ToDictionary(f => f.Q["word"]);

        // 1. Meaning of a word, then "那它的反义词呢？" / "And its opposite?".
        foreach (var f in facts[("word_meaning", "zh")].Where(f => antonymZh.ContainsKey(f.Q["word"])))
        {
            var a = antonymZh[f.Q["word"]];
            yield return new(f, "antonym", DialogueBuilder.Answer(a, a.A, new StableRandom(f.Id + "f2")), zhAntonymAsk, a.Accepted);
        }
        foreach (var f in facts[("word_meaning", "en")].Where(f => antonymEn.ContainsKey(f.Q["word"])))
        {
            var a = antonymEn[f.Q["word"]];
            yield return new(f, "antonym", DialogueBuilder.Answer(a, a.A, new StableRandom(f.Id + "f2")), enAntonymAsk, a.Accepted);
        }
        foreach (var f in facts[("translate_en_zh", "en")])
        {
            var word = f.A["word"];
            if (!antonymZh.TryGetValue(word, out var a)) continue;
            yield return new(f, "antonym", $"The opposite of {word} is {a.Gold}.", enAntonymAsk, a.Accepted);
        }

        // 2. A capital, then the same answer in the other language: "And in English?" / "And in Chinese?".
        var countries = knowledge.Countries.Where(c => c.CapitalZh is not null && c.Capitals.Count > 0).ToDictionary(c => "country:" + c.Code);
        foreach (var f in facts[("capital", "zh")].Where(f => countries.ContainsKey(f.Key)))
            yield return new(f, "english", $"英文是 {countries[f.Key].Capitals[0]}。", zhEnglishAsk, countries[f.Key].Capitals);
        foreach (var f in facts[("capital", "en")].Where(f => countries.ContainsKey(f.Key)))
            yield return new(f, "chinese", $"In Chinese, {countries[f.Key].Capitals[0]} is {countries[f.Key].CapitalZh}.", enChineseAsk, [countries[f.Key].CapitalZh!]);

        // 3. A country's name, then its capital: the follow-up only makes sense with the first turn.
        var byKey = knowledge.Countries.Where(c => c.Capitals.Count > 0).ToDictionary(c => "country:" + c.Code);
        IReadOnlyList<string> Capital(Country c) => [.. c.Capitals, .. c.CapitalZh is null ? Array.Empty<string>() : [c.CapitalZh]];
        foreach (var f in facts[("country_name", "zh")].Where(f => byKey.ContainsKey(f.Key)))
            yield return new(f, "capital", $"{byKey[f.Key].NameZh}的首都是{byKey[f.Key].CapitalZh ?? byKey[f.Key].Capitals[0]}。", zhCapitalAsk, Capital(byKey[f.Key]));
        foreach (var f in facts[("country_name", "en")].Where(f => byKey.ContainsKey(f.Key)))
            yield return new(f, "capital", $"The capital of {byKey[f.Key].NameEn} is {byKey[f.Key].Capitals[0]}.", enCapitalAsk, Capital(byKey[f.Key]));

        // 4. A word translated one way, then back: "那用中文呢？" after an English definition request is odd, so use translation.
        foreach (var f in facts[("translate_en_zh", "zh")].Take(400))
            yield return new(f, "english", $"英文就是 {f.Q["gloss"]}。", zhEnglishAsk, [f.Q["gloss"]]);
        foreach (var f in facts[("translate_zh_en", "en")].Where(f => f.Q["word"].Length >= 2).Take(400))
            yield return new(f, "chinese", $"In Chinese it is {f.Q["word"]} ({f.Q["pinyin"]}).", enChineseAsk.Where(a => !a.Contains("name")).ToArray(), [f.Q["word"]]);
    }

    SftRecord Two(Followup f)
    {
        var rng = new StableRandom(f.First.Id + "#followup");
        var turns = new List<ChatTurn>
        {
            new("user", DialogueBuilder.Prompt(f.First, rng)), new("assistant", DialogueBuilder.Answer(f.First, f.First.A, rng)),
            new("user", rng.Pick(f.Asks)), new("assistant", f.SecondAnswer),
        };
        return new SftRecord(Id("followup", f.First.Id), "followup", f.First.Lang, DialogueBuilder.WithSystem(f.First.Lang, rng, turns));
    }

    // ---------- long answers cut at the cap and resumed ----------

    /// <summary>Splits an answer into turns of at most `cap` characters, at line ends when possible, else at clause or word ends.</summary>
    public static List<string> CutAtCap(string text, int cap)
    {
        var parts = new List<string>();
        int start = 0;
        while (text.Length - start > cap)
        {
            int limit = start + cap;
            int cut = text.LastIndexOf('\n', limit - 1, cap);
            if (cut <= start) cut = text.LastIndexOfAny(['，', '。', '；', '？', '！', ',', '.', ';', ' '], limit - 1, cap) + 1;
            if (cut <= start) cut = limit;
            parts.Add(text[start..cut].TrimEnd());
            start = cut;
            while (start < text.Length && (text[start] == '\n' || text[start] == ' ')) start++;
        }
        if (start < text.Length) parts.Add(text[start..]);
        return parts;
    }

    public IEnumerable<SftRecord> Continuations()
    {
        var heldOut = knowledge.Tang300.Where(p => Splits.IsHeldOut("poemlines:" + p.Title + ":" + p.Author)).ToHashSet();
        foreach (var p in knowledge.Tang300.Where(p => p.Text.Length > FactGenerator.RecitationCap && !heldOut.Contains(p)))
            foreach (var lang in new[] { "zh", "en" })
            {
                var rng = new StableRandom($"continue:{lang}:{p.Title}:{p.Author}");
                var v = new Dictionary<string, string> { ["title"] = p.Title, ["author"] = p.Author };
                var prompt = Templates.Render(rng.Pick(Templates.Prompts[("poem_recite", lang)]), v);
                var header = lang == "zh" ? $"《{p.Title}》\n{p.Author}\n\n" : $"Here is 《{p.Title}》 by {p.Author}:\n\n";
                yield return Chunked("continue", lang, $"{p.Title}:{p.Author}", prompt, header + p.Text, CapZh, rng);
            }
        // Lists: the countries of a subregion with their capitals.
        foreach (var group in knowledge.Countries.Where(c => c.Capitals.Count > 0 && c.Subregion.Length > 0).GroupBy(c => c.Subregion).Where(g => g.Count() >= 8))
            foreach (var lang in new[] { "zh", "en" })
            {
                var rng = new StableRandom($"continue-list:{lang}:{group.Key}");
                string prompt, body;
                if (lang == "zh")
                {
                    prompt = rng.Pick(new[] { $"列出{group.Key}（{group.First().Region}）的所有国家和首都。", $"{group.Key}地区有哪些国家？首都分别是哪里？" });
                    body = string.Join("\n", group.Select(c => $"{c.NameZh}：{c.CapitalZh ?? c.Capitals[0]}"));
                }
                else
                {
                    prompt = rng.Pick(new[] { $"List all the countries of {group.Key} with their capitals.", $"Which countries are in {group.Key}, and what are their capitals?" });
                    body = string.Join("\n", group.Select(c => $"{c.NameEn}: {c.Capitals[0]}"));
                }
                yield return Chunked("continue", lang, "list:" + group.Key, prompt, body, lang == "zh" ? CapZh : CapEn, rng);
            }
    }

    static SftRecord Chunked(string task, string lang, string key, string prompt, string answer, int cap, StableRandom rng)
    {
        var turns = new List<ChatTurn> { new("user", prompt) };
        var parts = CutAtCap(answer, cap);
        for (int i = 0; i < parts.Count; i++)
        {
            if (i > 0) turns.Add(new("user", rng.Pick(Templates.Prompts[("continue", lang)])));
            turns.Add(new("assistant", parts[i]));
        }
        return new SftRecord(Id(task, $"{lang}:{key}"), task, lang, DialogueBuilder.WithSystem(lang, rng, turns));
    }
}
