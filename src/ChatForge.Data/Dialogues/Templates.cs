namespace ChatForge.Data.Dialogues;

/// <summary>
/// Phrasings of every task in both languages. Prompts[(task, lang)] holds the user turns (at least 20 each, checked by a
/// test); Answers[(task, lang)] the assistant's ways of giving the answer. Placeholders are {name}; Render fills them.
/// </summary>
public static class Templates
{
    public static readonly string[] Tasks =
        ["word_meaning", "translate_zh_en", "translate_en_zh", "antonym", "capital", "country_name", "poem_author", "poem_next_line",
         "poem_recite", "arithmetic", "identity", "greeting", "unknown", "followup", "continue"];

    public static string Render(string template, IReadOnlyDictionary<string, string> values)
    {
        var sb = new System.Text.StringBuilder(template.Length + 32);
        int i = 0;
        while (i < template.Length)
        {
            int open = template.IndexOf('{', i);
            if (open < 0) { sb.Append(template, i, template.Length - i); break; }
            int close = template.IndexOf('}', open);
            if (close < 0) throw new FormatException($"Template has an unclosed '{{': {template}");
            sb.Append(template, i, open - i);
            var name = template[(open + 1)..close];
            if (!values.TryGetValue(name, out var v)) throw new KeyNotFoundException($"Template needs {{{name}}}: {template}");
            sb.Append(v);
            i = close + 1;
        }
        return sb.ToString();
    }

    public static readonly Dictionary<(string Task, string Lang), string[]> Prompts = new()
    {
        [("word_meaning", "zh")] = [
            "“{word}”是什么意思？", "{word}是什么意思？", "请解释一下“{word}”这个词。", "“{word}”这个词怎么理解？", "{word}这个词的意思是什么？",
            "你知道“{word}”是什么意思吗？", "能告诉我“{word}”的意思吗？", "“{word}”指的是什么？", "解释：{word}", "“{word}”的含义是什么？",
            "我不太懂“{word}”，能解释一下吗？", "“{word}”在中文里是什么意思？", "{word}，什么意思？", "请问“{word}”的意思。", "查一下“{word}”的意思。",
            "“{word}”这个词表示什么？", "帮我解释一下{word}。", "{word}是啥意思？", "“{word}”怎么解释？", "词语“{word}”的意思是？", "说说“{word}”的意思。"],
        [("word_meaning", "en")] = [
            "What does \"{word}\" mean?", "What is the meaning of the word \"{word}\"?", "Define \"{word}\".", "Can you explain what \"{word}\" means?",
            "What's the definition of {word}?", "Give me the meaning of \"{word}\".", "I don't understand the word \"{word}\". What does it mean?",
            "Meaning of \"{word}\"?", "What do people mean by \"{word}\"?", "Explain the word \"{word}\".", "How would you define \"{word}\"?",
            "\"{word}\" - what does that mean?", "Could you tell me what \"{word}\" means?", "What is a definition of the word {word}?",
            "Define the word {word}, please.", "What does the word {word} mean?", "Please explain the meaning of \"{word}\".", "Tell me the meaning of {word}.",
            "What is meant by \"{word}\"?", "Dictionary definition of \"{word}\"?", "In plain English, what does \"{word}\" mean?"],
        [("translate_zh_en", "zh")] = [
            "“{word}”用英语怎么说？", "{word}的英文是什么？", "把“{word}”翻译成英文。", "“{word}”翻译成英语是什么？", "{word}英文怎么说？",
            "请把“{word}”译成英语。", "“{word}”对应的英文单词是什么？", "“{word}”在英语里怎么说？", "英语里“{word}”怎么讲？", "{word}用英文怎么表达？",
            "翻译：{word}", "中译英：{word}", "“{word}”的英文翻译是？", "请问{word}用英语怎么讲？", "怎么用英语说“{word}”？", "{word}，英语怎么说？",
            "帮我把“{word}”翻成英文。", "“{word}”英语怎么写？", "“{word}”的英语单词是什么？", "我想知道“{word}”用英语怎么说。", "“{word}”这个词的英文是？"],
        [("translate_zh_en", "en")] = [
            "How do you say {word} in English?", "What is {word} in English?", "Translate {word} into English.", "What does the Chinese word {word} mean in English?",
            "English for {word}?", "Translate to English: {word}", "What's the English word for {word}?", "How would you translate {word} into English?",
            "What is the English translation of {word}?", "Can you translate {word} to English?", "{word} in English, please.", "What's {word} in English?",
            "Give me the English for {word}.", "How is {word} said in English?", "What English word means {word}?", "Chinese to English: {word}",
            "I saw the word {word}. What is it in English?", "Please translate the Chinese word {word}.", "What does {word} translate to in English?",
            "How do I say {word} in English?", "English translation of {word}?"],
        [("translate_en_zh", "zh")] = [
            "“{gloss}”用中文怎么说？", "{gloss}的中文是什么？", "把“{gloss}”翻译成中文。", "英文“{gloss}”翻译成中文是什么？", "{gloss}中文怎么说？",
            "请把“{gloss}”译成中文。", "“{gloss}”对应的中文词是什么？", "“{gloss}”在中文里怎么说？", "中文里“{gloss}”怎么讲？", "{gloss}用汉语怎么表达？",
            "翻译：{gloss}", "英译中：{gloss}", "“{gloss}”的中文翻译是？", "请问{gloss}用中文怎么讲？", "怎么用中文说“{gloss}”？", "{gloss}，中文怎么说？",
            "帮我把“{gloss}”翻成中文。", "“{gloss}”汉语怎么说？", "英语单词“{gloss}”是什么意思？用中文说。", "我想知道“{gloss}”用中文怎么说。", "“{gloss}”这个英文词的中文是？"],
        [("translate_en_zh", "en")] = [
            "How do you say \"{gloss}\" in Chinese?", "What is \"{gloss}\" in Chinese?", "Translate \"{gloss}\" into Chinese.", "What's the Chinese word for \"{gloss}\"?",
            "Chinese for \"{gloss}\"?", "Translate to Chinese: {gloss}", "How would you say \"{gloss}\" in Mandarin?", "What is the Chinese translation of \"{gloss}\"?",
            "Can you translate \"{gloss}\" to Chinese?", "\"{gloss}\" in Chinese, please.", "Give me the Chinese for \"{gloss}\".", "How is \"{gloss}\" said in Chinese?",
            "What Chinese word means \"{gloss}\"?", "English to Chinese: {gloss}", "How do I write \"{gloss}\" in Chinese?", "Please translate \"{gloss}\" into Chinese.",
            "What's \"{gloss}\" in Mandarin Chinese?", "I need the Chinese word for \"{gloss}\".", "How do you express \"{gloss}\" in Chinese?",
            "Which Chinese word means \"{gloss}\"?", "Chinese translation of \"{gloss}\"?"],
        [("antonym", "zh")] = [
            "“{word}”的反义词是什么？", "{word}的反义词是？", "“{word}”的反义词", "跟“{word}”意思相反的词是什么？", "与“{word}”相反的词是哪个？",
            "请说出“{word}”的反义词。", "{word}的反义词是什么？", "“{word}”反过来是什么？", "“{word}”的对立词是什么？", "哪个词和“{word}”意思相反？",
            "给我一个“{word}”的反义词。", "写出“{word}”的反义词。", "“{word}”的反面是什么词？", "请问{word}的反义词。", "{word}，反义词？",
            "说一个跟“{word}”相反的词。", "“{word}”和什么是反义词？", "你知道“{word}”的反义词吗？", "反义词：{word}", "“{word}”的相反词是什么？"],
        [("antonym", "en")] = [
            "What is the opposite of \"{word}\"?", "What's an antonym of {word}?", "Give me the opposite of \"{word}\".", "Antonym of \"{word}\"?",
            "What word means the opposite of {word}?", "What is the antonym of the word \"{word}\"?", "Opposite of {word}?", "Name an antonym for \"{word}\".",
            "Which word is the opposite of \"{word}\"?", "What's the opposite of {word}?", "Tell me an antonym of {word}.", "Can you give me the antonym of \"{word}\"?",
            "What would be the opposite of \"{word}\"?", "The opposite of \"{word}\" is what?", "I need an antonym for {word}.", "What is the reverse of \"{word}\"?",
            "Find the antonym: {word}", "What word is opposite in meaning to \"{word}\"?", "Give an antonym of \"{word}\", please.", "Do you know the opposite of \"{word}\"?"],
        [("capital", "zh")] = [
            "{country}的首都是哪里？", "{country}的首都是什么？", "{country}首都在哪？", "请问{country}的首都。", "{country}的首都叫什么？",
            "你知道{country}的首都吗？", "{country}的首都是哪座城市？", "{country}首都是哪个城市？", "告诉我{country}的首都。", "{country}的首都在哪里？",
            "哪座城市是{country}的首都？", "{country}的首府是哪里？", "{country}，首都是？", "说出{country}的首都。", "{country}首都叫什么名字？",
            "我想知道{country}的首都。", "{country}的政府所在地是哪座城市？", "请告诉我{country}的首都是哪里。", "{country}的首都城市是？", "首都：{country}"],
        [("capital", "en")] = [
            "What is the capital of {country}?", "What's the capital city of {country}?", "Which city is the capital of {country}?", "Capital of {country}?",
            "Tell me the capital of {country}.", "Do you know the capital of {country}?", "Name the capital of {country}.", "What city is {country}'s capital?",
            "{country}'s capital is which city?", "What is {country}'s capital?", "Where is the capital of {country}?", "Can you tell me the capital of {country}?",
            "I'd like to know the capital of {country}.", "Which city serves as the capital of {country}?", "What is the capital city of {country}?",
            "The capital of {country} is?", "What's {country}'s capital city?", "Please name the capital of {country}.", "In which city is the government of {country}?",
            "Capital city: {country}?"],
        [("country_name", "zh")] = [
            "{name}的中文名字是什么？", "“{name}”用中文怎么说？", "{name}这个国家中文叫什么？", "{name}翻译成中文是哪个国家？", "英文的{name}是指哪个国家？",
            "{name}的中文名称是？", "{name}是哪个国家？", "“{name}”是哪国？", "请把国名{name}翻译成中文。", "{name}中文怎么叫？",
            "国家名{name}用汉语怎么说？", "{name}在中文里叫什么？", "告诉我{name}的中文名。", "{name}，中文名？", "英文{name}对应的中文国名是什么？",
            "{name}这个国名怎么翻译？", "我看到{name}，这是哪个国家？", "{name}用中文怎么称呼？", "请问{name}的中文国名。", "{name}的汉语名称是什么？"],
        [("country_name", "en")] = [
            "What is {name} in English?", "Which country is {name}?", "What country is {name}?", "Translate the country name {name} into English.",
            "What's the English name of {name}?", "{name} in English?", "How do you say {name} in English?", "What is the English name for the country {name}?",
            "Which country does {name} refer to?", "Tell me the English name of {name}.", "I saw {name} on a map. Which country is that?",
            "What's {name} called in English?", "Name of {name} in English?", "Can you translate {name} into English?", "English name of the country {name}?",
            "{name} - which country is this?", "Please give the English name of {name}.", "What do we call {name} in English?", "Which nation is {name}?",
            "What is the country {name} called in English?"],
        [("poem_author", "zh")] = [
            "《{title}》的作者是谁？", "《{title}》是谁写的？", "谁写了《{title}》？", "《{title}》这首诗是谁的作品？", "《{title}》出自哪位诗人？",
            "请问《{title}》的作者。", "《{title}》是哪位诗人写的？", "你知道《{title}》是谁写的吗？", "《{title}》的作者是哪位？", "写《{title}》的诗人是谁？",
            "《{title}》，作者是？", "告诉我《{title}》的作者。", "《{title}》是谁的诗？", "哪位诗人写了《{title}》？", "《{title}》这首唐诗的作者是谁？",
            "作者：《{title}》", "唐诗《{title}》是谁作的？", "《{title}》的诗人是谁？", "我想知道《{title}》的作者。", "《{title}》是谁创作的？"],
        [("poem_author", "en")] = [
            "Who wrote the poem {title}?", "Who is the author of 《{title}》?", "Who wrote 《{title}》?", "Which poet wrote {title}?", "The poem 《{title}》 is by whom?",
            "Do you know who wrote {title}?", "Who's the poet behind 《{title}》?", "Author of the Tang poem {title}?", "Tell me who wrote 《{title}》.",
            "Which Tang poet wrote 《{title}》?", "Who composed the poem {title}?", "{title} was written by which poet?", "Can you tell me the author of 《{title}》?",
            "Whose poem is 《{title}》?", "Name the author of {title}.", "Who is the poet of 《{title}》?", "I'd like to know who wrote 《{title}》.",
            "Who wrote the Chinese poem {title}?", "《{title}》: who is the author?", "Who authored 《{title}》?"],
        [("poem_next_line", "zh")] = [
            "“{line}”的下一句是什么？", "{line}，下一句是？", "接下句：{line}", "“{line}”下一句是什么？", "{line}，后面一句是什么？", "请接上：{line}，",
            "“{line}”后面是哪一句？", "诗句“{line}”的下一句是？", "你能接“{line}”的下一句吗？", "{line}的下句是什么？", "“{line}”，接下来是？",
            "请说出“{line}”的下一句。", "下一句：{line}", "“{line}”后面接什么？", "{line}——下一句？", "我记得“{line}”，后面是什么来着？",
            "“{line}”的后一句是？", "补全诗句：{line}，____。", "{line}，然后呢？", "请接着背：{line}"],
        [("poem_next_line", "en")] = [
            "What comes after \"{line}\"?", "What is the next line after \"{line}\"?", "Complete the line: {line}, ...", "What follows \"{line}\" in the poem?",
            "Next line after \"{line}\"?", "Continue the poem: {line}", "In the poem, what comes after \"{line}\"?", "Can you give me the line after \"{line}\"?",
            "What's the line that follows \"{line}\"?", "Finish the couplet: {line}", "\"{line}\" - what comes next?", "What is the following line of \"{line}\"?",
            "Tell me the next line: {line}", "Which line comes after \"{line}\"?", "I remember \"{line}\". What's next?", "Fill in the next line: {line}, ____",
            "What line follows \"{line}\"?", "After \"{line}\", what does the poem say?", "Give me the next line of the poem after \"{line}\".", "Next line, please: {line}"],
        [("poem_recite", "zh")] = [
            "背诵《{title}》。", "请背一下{author}的《{title}》。", "《{title}》全文是什么？", "能背一下《{title}》吗？", "写出《{title}》的全文。",
            "请完整背诵《{title}》。", "{author}的《{title}》怎么背？", "给我背一遍《{title}》。", "《{title}》这首诗的内容是什么？", "默写《{title}》。",
            "你会背《{title}》吗？背一下。", "请写出{author}《{title}》的原文。", "《{title}》原文", "把《{title}》背给我听。", "请给出《{title}》的全诗。",
            "念一下《{title}》。", "《{title}》怎么写的？", "我想看《{title}》的原文。", "{author}《{title}》全诗", "背一首《{title}》。"],
        [("poem_recite", "en")] = [
            "Recite the poem {title} by {author}.", "Can you recite 《{title}》?", "Please recite {author}'s 《{title}》.", "What is the full text of 《{title}》?",
            "Write out the poem 《{title}》.", "Give me the text of {title}.", "Recite 《{title}》 for me.", "Show me the poem 《{title}》 by {author}.",
            "Do you know 《{title}》? Please recite it.", "What are the words of 《{title}》?", "Type out {author}'s poem 《{title}》.", "Full text of 《{title}》, please.",
            "Could you recite the Tang poem 《{title}》?", "I'd like to read 《{title}》. Can you write it out?", "How does the poem 《{title}》 go?",
            "Recite the whole poem 《{title}》.", "Please write the original Chinese of 《{title}》.", "Let me hear 《{title}》 by {author}.", "Can you quote all of 《{title}》?",
            "Write down 《{title}》."],
        [("arithmetic", "zh")] = [
            "{a}{opzh}{b}等于多少？", "{expr}=?", "计算：{expr}", "{expr}等于几？", "请算一下{expr}。", "{a}{opzh}{b}是多少？", "{expr}的结果是多少？",
            "帮我算{expr}。", "算一算：{a}{opzh}{b}", "{expr}等于多少？", "{a}{opzh}{b}得多少？", "请问{expr}是多少？", "口算：{expr}", "{expr}，结果是？",
            "算术题：{expr}", "你能算出{expr}吗？", "{a}{opzh}{b}，等于？", "求{expr}的值。", "计算{a}{opzh}{b}的结果。", "{expr} 等于？"],
        [("arithmetic", "en")] = [
            "What is {a} {open} {b}?", "{expr} = ?", "Calculate {expr}.", "What's {expr}?", "Compute {expr}.", "What does {a} {open} {b} equal?",
            "Please work out {expr}.", "How much is {a} {open} {b}?", "Solve: {expr}", "What is the result of {expr}?", "Can you calculate {expr}?",
            "{a} {open} {b} is?", "Quick math: {expr}", "Evaluate {expr}.", "What do you get for {expr}?", "Find {expr}.", "Tell me what {a} {open} {b} is.",
            "What's the answer to {expr}?", "Arithmetic: {expr}", "{expr}, please."],
        [("identity", "zh")] = [
            "你是谁？", "你叫什么名字？", "介绍一下你自己。", "你是什么？", "你是人还是机器？", "你是ChatGPT吗？", "你是哪个公司开发的？", "你能做什么？",
            "你会些什么？", "你能上网吗？", "你知道今天的新闻吗？", "你有多大？", "你是什么模型？", "你的名字是什么？", "请做个自我介绍。", "你是机器人吗？",
            "你擅长什么？", "你有什么局限？", "你的知识从哪里来？", "你会说英语吗？", "你是真人吗？", "你可以帮我做什么？"],
        [("identity", "en")] = [
            "Who are you?", "What's your name?", "Introduce yourself.", "What are you?", "Are you a human or a machine?", "Are you ChatGPT?", "Who made you?",
            "What can you do?", "What are you good at?", "Can you browse the internet?", "Do you know today's news?", "How big are you?", "What model are you?",
            "Tell me about yourself.", "Are you a robot?", "What are your limitations?", "Where does your knowledge come from?", "Do you speak Chinese?",
            "Are you a real person?", "What can you help me with?", "What should I know about you?"],
        [("greeting", "zh")] = [
            "你好", "你好！", "您好", "嗨", "早上好", "下午好", "晚上好", "在吗？", "哈喽", "你好呀", "谢谢", "谢谢你！", "多谢", "非常感谢", "再见", "拜拜",
            "晚安", "好的，谢谢", "辛苦了", "明天见"],
        [("greeting", "en")] = [
            "Hi", "Hello!", "Hey", "Good morning", "Good afternoon", "Good evening", "Hi there!", "Hello, anyone there?", "Hey, how are you?", "Howdy",
            "Thanks", "Thank you!", "Thanks a lot", "Much appreciated", "Bye", "Goodbye!", "Good night", "See you later", "OK, thanks", "Cheers"],
        [("unknown", "zh")] = [
            "今天天气怎么样？", "现在几点了？", "今天是几号？", "明天会下雨吗？", "昨天的比赛谁赢了？", "现在比特币多少钱？", "今天有什么新闻？", "我的快递到哪了？",
            "我叫什么名字？", "今年的诺贝尔奖得主是谁？", "最新的iPhone是哪款？", "帮我查一下航班信息。", "我明天的日程是什么？", "现在美元兑人民币汇率是多少？",
            "附近有什么好吃的餐厅？", "下一届奥运会的金牌榜是怎样的？", "我的手机号码是多少？", "这只股票明天会涨吗？", "我家的猫叫什么？", "今天的彩票号码是什么？"],
        [("unknown", "en")] = [
            "What's the weather like today?", "What time is it now?", "What's today's date?", "Will it rain tomorrow?", "Who won yesterday's game?",
            "What's the price of bitcoin right now?", "What's in the news today?", "Where is my package?", "What's my name?", "Who won this year's Nobel Prize?",
            "What's the newest iPhone?", "Can you look up my flight?", "What's on my calendar tomorrow?", "What's the current dollar to yuan exchange rate?",
            "Any good restaurants near me?", "What will the stock market do tomorrow?", "What's my phone number?", "What is my cat's name?",
            "What are today's lottery numbers?", "Who is going to win the next election?"],
        [("followup", "zh")] = [
            "那它的反义词呢？", "它的反义词呢？", "那反义词是什么？", "反过来呢？", "那意思相反的词呢？", "那它的反义词是？", "再说一个反义词。", "它的反面呢？",
            "用英语怎么说？", "那用英语呢？", "英文呢？", "翻译成英语呢？", "那英文名字呢？", "用英文说一下。", "它的英文是？", "那在英语里叫什么？",
            "那用中文呢？", "中文怎么说？", "那中文名呢？", "换成中文呢？", "那它的首都呢？", "首都是哪里？"],
        [("followup", "en")] = [
            "And its opposite?", "What about the opposite?", "And the antonym?", "What's the opposite of that?", "And the reverse?", "What would the opposite be?",
            "Antonym?", "And the opposite word?", "And in English?", "What about in English?", "And the English name?", "In English, please.", "How about English?",
            "And in Chinese?", "What about in Chinese?", "How do you say that in Chinese?", "And the Chinese name?", "In Chinese?", "And its capital?",
            "What's its capital?", "What about its capital city?"],
        [("continue", "zh")] = [
            "继续", "继续。", "请继续", "接着说", "然后呢？", "往下背", "继续背", "接着背", "还有呢？", "下面呢？", "继续写", "请接着往下说", "没说完，继续",
            "后面呢？", "继续吧", "再往下", "请继续背下去", "接着来", "嗯，继续", "好的，继续"],
        [("continue", "en")] = [
            "continue", "Continue", "Continue.", "Please continue.", "Go on.", "Keep going.", "And then?", "What's next?", "More, please.", "Go on, please.",
            "Continue please", "Keep going, please.", "Carry on.", "Don't stop, continue.", "What comes next?", "Please go on.", "Next part?", "Continue from there.",
            "OK, continue.", "Yes, go on."],
    };

    public static readonly Dictionary<(string Task, string Lang), string[]> Answers = new()
    {
        [("word_meaning", "zh")] = ["“{word}”（{pinyin}）的意思是：{gloss}。", "“{word}”读作 {pinyin}，意思是：{gloss}。", "{word}（{pinyin}）：{gloss}。", "“{word}”的意思是 {gloss}。"],
        [("word_meaning", "en")] = ["\"{word}\" ({pos}) means: {gloss}.", "The most common meaning of \"{word}\" ({pos}) is: {gloss}.", "{word} ({pos}): {gloss}."],
        [("translate_zh_en", "zh")] = ["“{word}”的英文是 {gloss}。", "“{word}”用英语说是 {gloss}。", "{gloss}（“{word}”，{pinyin}）。", "英文是 {gloss}。"],
        [("translate_zh_en", "en")] = ["{word} ({pinyin}) means \"{gloss}\" in English.", "In English, {word} is \"{gloss}\".", "\"{gloss}\" ({word}, {pinyin})."],
        [("translate_en_zh", "zh")] = ["“{gloss}”的中文是“{word}”（{pinyin}）。", "中文说“{word}”（{pinyin}）。", "“{gloss}”可以译为“{word}”。"],
        [("translate_en_zh", "en")] = ["In Chinese, \"{gloss}\" is {word} ({pinyin}).", "\"{gloss}\" is {word} ({pinyin}) in Chinese.", "{word} ({pinyin})."],
        [("antonym", "zh")] = ["“{word}”的反义词是“{answer}”。", "“{answer}”。", "和“{word}”意思相反的词是“{answer}”。"],
        [("antonym", "en")] = ["The opposite of \"{word}\" is \"{answer}\".", "\"{answer}\".", "An antonym of \"{word}\" is \"{answer}\"."],
        [("capital", "zh")] = ["{country}的首都是{answer}。", "是{answer}。", "{answer}是{country}的首都。"],
        [("capital", "en")] = ["The capital of {country} is {answer}.", "{answer}.", "{answer} is the capital of {country}."],
        [("country_name", "zh")] = ["{name}的中文名是{answer}。", "{answer}。", "{name}就是{answer}。"],
        [("country_name", "en")] = ["{name} is {answer} in English.", "{answer}.", "That is {answer}."],
        [("poem_author", "zh")] = ["《{title}》的作者是{answer}。", "是{answer}写的。", "{answer}。"],
        [("poem_author", "en")] = ["《{title}》 was written by {answer}.", "The author is {answer}.", "{answer}."],
        [("poem_next_line", "zh")] = ["“{line}”的下一句是“{answer}”。", "{line}，{answer}。", "下一句是“{answer}”。"],
        [("poem_next_line", "en")] = ["The next line is \"{answer}\".", "\"{line}\" is followed by \"{answer}\".", "{answer}"],
        [("poem_recite", "zh")] = ["《{title}》\n{author}\n\n{answer}", "{author}《{title}》：\n{answer}"],
        [("poem_recite", "en")] = ["Here is 《{title}》 by {author}:\n\n{answer}", "《{title}》, {author}:\n{answer}"],
        [("arithmetic", "zh")] = ["{expr} = {answer}。", "等于{answer}。", "{answer}"],
        [("arithmetic", "en")] = ["{expr} = {answer}.", "It's {answer}.", "{answer}"],
    };

    public static readonly string[] SystemZh = ["你是 ChatForge，一个小型的中英双语助手。", "你是 ChatForge。回答要简洁、诚实，不知道就说不知道。", "你是一个乐于助人的助手。"];
    public static readonly string[] SystemEn = ["You are ChatForge, a small bilingual (Chinese/English) assistant.", "You are ChatForge. Answer briefly and honestly; say when you don't know.", "You are a helpful assistant."];
}
