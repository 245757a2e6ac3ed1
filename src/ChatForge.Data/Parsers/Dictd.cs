using System.IO.Compression;
using System.Text;
using ChatForge.Data.Sources;

namespace ChatForge.Data.Parsers;

/// <summary>
/// dictd databases: NAME.index lines "headword\tOFFSET\tLENGTH" (dictd's base64 numbers) into NAME.dict.dz (gzip).
/// Entries whose headword starts with "00database" are metadata.
/// </summary>
public static class Dictd
{
    const string B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    public static long DecodeNumber(string s, string fileName, int line)
    {
        long v = 0;
        foreach (var c in s)
        {
            int d = B64.IndexOf(c);
            if (d < 0) throw new DataSourceException($"{fileName}: line {line}: '{s}' is not a dictd base64 number.");
            v = v * 64 + d;
        }
        return v;
    }

    public static List<(string Headword, string Body)> Load(string indexPath, string dictPath)
    {
        foreach (var f in new[] { indexPath, dictPath })
            if (!File.Exists(f)) throw new DataSourceException($"{f}: dictd file not found; run `data fetch`.");
        byte[] dict;
        var compressed = File.ReadAllBytes(dictPath);
        try
        {
            using var gz = new GZipStream(new MemoryStream(compressed), CompressionMode.Decompress);
            using var ms = new MemoryStream();
            gz.CopyTo(ms);
            dict = ms.ToArray();
        }
        catch (InvalidDataException e) { throw new DataSourceException($"{dictPath}: corrupt or truncated gzip data ({e.Message}).", e); }
        // GZipStream stops quietly at a cut-off file; the trailer's ISIZE (length mod 2^32) tells the truth.
        if (compressed.Length < 18 || BitConverter.ToUInt32(compressed, compressed.Length - 4) != (uint)dict.Length)
            throw new DataSourceException($"{dictPath}: truncated gzip data (decompressed {dict.Length} bytes, trailer disagrees).");
        return Parse(File.ReadLines(indexPath), dict, indexPath, dictPath);
    }

    public static List<(string Headword, string Body)> Parse(IEnumerable<string> indexLines, byte[] dict, string indexName, string dictName)
    {
        var result = new List<(string, string)>();
        var seen = new HashSet<long>();
        int n = 0;
        foreach (var line in indexLines)
        {
            n++;
            var f = line.Split('\t');
            if (f.Length < 3) throw new DataSourceException($"{indexName}: line {n} is not 'headword<TAB>offset<TAB>length'.");
            if (f[0].StartsWith("00database")) continue;
            long offset = DecodeNumber(f[1], indexName, n), length = DecodeNumber(f[2], indexName, n);
            if (offset + length > dict.Length)
                throw new DataSourceException($"{dictName}: entry '{f[0]}' (index line {n}) points past the end of the data ({offset + length} > {dict.Length} bytes); truncated file?");
            if (!seen.Add(offset)) continue; // several headwords share one definition
            result.Add((f[0], Encoding.UTF8.GetString(dict, (int)offset, (int)length)));
        }
        return result;
    }
}
