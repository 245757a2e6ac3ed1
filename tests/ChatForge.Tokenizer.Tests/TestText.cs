using System.Text;

namespace ChatForge.Tokenizer.Tests;

/// <summary>Seeded generators of test text: a small bilingual corpus and random strings from many scripts.</summary>
internal static class TestText
{
    private static readonly string[] EnglishWords =
        "the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part".Split(' ');

    private const string Han = "的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从";

    /// <summary>A bilingual "corpus": English sentences, Chinese sentences with full-width punctuation, a little code and numbers.</summary>
    public static string Corpus(int seed, int sentences)
    {
        var random = new Random(seed);
        var sb = new StringBuilder();
        for (int i = 0; i < sentences; i++)
        {
            switch (random.Next(4))
            {
                case 0:
                case 1:
                    int n = random.Next(4, 14);
                    for (int w = 0; w < n; w++)
                    {
                        string word = EnglishWords[(int)(Math.Pow(random.NextDouble(), 2) * EnglishWords.Length)];
                        if (w == 0) word = char.ToUpperInvariant(word[0]) + word[1..];
                        sb.Append(word).Append(w == n - 1 ? ". " : " ");
                    }
                    break;
                case 2:
                    int m = random.Next(5, 20);
                    for (int c = 0; c < m; c++) sb.Append(Han[(int)(Math.Pow(random.NextDouble(), 2) * Han.Length)]);
                    sb.Append(random.Next(3) == 0 ? "，" : "。");
                    break;
                default:
                    sb.Append($"x{random.Next(100)} = {random.Next(100000)}; // step {random.Next(10)}\n");
                    break;
            }
            if (random.Next(8) == 0) sb.Append("\n\n");
        }
        return sb.ToString();
    }

    /// <summary>A random string mixing ASCII, Han, emoji, other scripts, control characters, combining marks and odd whitespace (always valid UTF-16).</summary>
    public static string RandomString(Random random, int length)
    {
        var sb = new StringBuilder(length + 2);
        while (sb.Length < length)
        {
            switch (random.Next(12))
            {
                case 0: case 1: case 2: sb.Append((char)random.Next(0x20, 0x7F)); break;
                case 3: sb.Append(Han[random.Next(Han.Length)]); break;
                case 4: sb.Append((char)random.Next(0x4E00, 0xA000)); break;
                case 5: sb.Append(char.ConvertFromUtf32(random.Next(0x1F300, 0x1FAFF))); break; // emoji: surrogate pairs, 4 UTF-8 bytes
                case 6: sb.Append((char)random.Next(0, 0x20)); break;                          // control characters incl. \0 \t \r \n ESC
                case 7: sb.Append("\u0301\u0308\u20DD"[random.Next(3)]); break;                 // combining marks
                case 8: sb.Append((char)random.Next(0x0400, 0x0700)); break;                    // Cyrillic, Armenian, Hebrew, Arabic
                case 9: sb.Append(" \u00A0\u3000\u2028\t\r\n"[random.Next(7)]); break;          // whitespace, incl. ideographic space
                case 10: sb.Append(char.ConvertFromUtf32(random.Next(0x20000, 0x2A6DF))); break; // Han extension B (supplementary plane)
                default: sb.Append("，。！？、“”《》0123456789"[random.Next(19)]); break;
            }
        }
        return sb.ToString();
    }
}
