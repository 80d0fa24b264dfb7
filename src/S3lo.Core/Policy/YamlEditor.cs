using System.Text;
using System.Text.RegularExpressions;

namespace S3lo.Core.Policy;

/// <summary>A value to write: its flow text, and for a list its items, so a block list can stay a block list.</summary>
internal sealed record YamlLeaf(string Text, IReadOnlyList<string>? Items = null);

/// <summary>
/// Edits s3lo.yaml by splicing its text at the spans of the parsed nodes, so everything not edited
/// (comments, unknown keys, order, quoting, indentation, line endings) stays byte for byte as it was.
/// Each method returns the new text; the caller parses it again before the next edit.
/// </summary>
internal sealed partial class YamlEditor(string text, SourceNode? root)
{
    private readonly string _newLine = text.Contains("\r\n", StringComparison.Ordinal) ? "\r\n" : "\n";
    private readonly int _indentStep = root is null ? 2 : DetectIndentStep(text, root) ?? 2;

    public string Set(IReadOnlyList<string> path, YamlLeaf leaf)
    {
        if (root is null || root.IsNull)
        {
            var rest = root is null ? text : text.Remove(root.Start, root.End - root.Start);
            return Append(rest, RenderBlock(path, leaf, 0));
        }
        var map = root;
        for (var i = 0; ; i++)
        {
            var index = map.IndexOf(path[i]);
            if (index < 0) return InsertEntry(map, path.Skip(i).ToArray(), leaf);
            var (key, value) = map.Pairs[index];
            if (i == path.Count - 1) return ReplaceValue(key, value, leaf);
            if (value.IsNull) return FillNull(map, key, value, path.Skip(i + 1).ToArray(), leaf);
            if (value.Kind != SourceKind.Mapping) throw new InvalidOperationException($"'{path[i]}' is not a mapping.");
            map = value;
        }
    }

    /// <summary>Removes the entry at <paramref name="path"/>, and every mapping that this leaves empty; null when there is no such entry.</summary>
    public string? Remove(IReadOnlyList<string> path)
    {
        if (root is null || root.Kind != SourceKind.Mapping) return null;
        var trail = new List<(SourceNode Map, int Index)>();
        var map = root;
        foreach (var key in path)
        {
            if (map is null) return null;
            var index = map.IndexOf(key);
            if (index < 0) return null;
            trail.Add((map, index));
            var value = map.Pairs[index].Value;
            map = value.Kind == SourceKind.Mapping ? value : null;
        }
        var level = trail.Count - 1;
        while (level > 0 && trail[level].Map.Pairs.Count == 1) level--;
        return RemoveEntry(trail[level].Map, trail[level].Index);
    }

    private string RemoveEntry(SourceNode map, int index)
    {
        var (key, value) = map.Pairs[index];
        if (!map.IsFlow)
        {
            var start = LineStart(key.Start);
            return text.Remove(start, LineEndInclusive(value.End) - start);
        }
        if (map.Pairs.Count == 1) return Splice(map.Start + 1, map.End - 1, "");
        return index < map.Pairs.Count - 1
            ? Splice(key.Start, map.Pairs[index + 1].Key.Start, "")
            : Splice(map.Pairs[index - 1].Value.End, value.End, "");
    }

    private string InsertEntry(SourceNode map, string[] keys, YamlLeaf leaf)
    {
        if (map.IsFlow)
        {
            var entry = RenderFlow(keys, leaf);
            return map.Pairs.Count == 0
                ? Splice(map.Start + 1, map.End - 1, " " + entry + " ")
                : Splice(map.Pairs[^1].Value.End, map.Pairs[^1].Value.End, ", " + entry);
        }
        return InsertAfterLine(text, map.End, RenderBlock(keys, leaf, Column(map.Pairs[0].Key.Start)));
    }

    private string FillNull(SourceNode map, SourceNode key, SourceNode nullValue, string[] keys, YamlLeaf leaf)
    {
        var colon = ColonAfter(key);
        // An empty scalar's marks point at the next token, which may lie past spaces or comments.
        var isEmpty = nullValue.Start == nullValue.End;
        if (map.IsFlow)
            return Splice(colon + 1, isEmpty ? colon + 1 : nullValue.End, " { " + RenderFlow(keys, leaf) + " }");
        // Insert below first: it lies after the null's text, so removing that text afterwards keeps both positions right.
        var filled = InsertAfterLine(text, isEmpty ? colon : nullValue.End, RenderBlock(keys, leaf, Column(key.Start) + _indentStep));
        return isEmpty ? filled : filled.Remove(colon + 1, nullValue.End - colon - 1);
    }

    private string ReplaceValue(SourceNode key, SourceNode value, YamlLeaf leaf)
    {
        var isBlockCollection = value.Kind is SourceKind.Mapping or SourceKind.Sequence && !value.IsFlow;
        if (isBlockCollection && value.Kind == SourceKind.Sequence && leaf.Items is { Count: > 0 } items)
        {
            var lineStart = LineStart(value.Start);
            var indent = new string(' ', value.Start - lineStart);
            return Splice(lineStart, value.End, string.Join(_newLine, items.Select(item => indent + "- " + item)));
        }
        var colon = ColonAfter(key);
        if (isBlockCollection)
        {
            var afterColon = text[(colon + 1)..LineEnd(colon)];
            var comment = afterColon.TrimStart().StartsWith('#') ? afterColon : "";
            // The comment on the last item's line goes with the items it describes.
            return Splice(colon + 1, LineEnd(value.End), " " + leaf.Text + comment);
        }
        if (value.Start == value.End) return Splice(colon + 1, colon + 1, " " + leaf.Text);
        return Splice(value.Start, value.End, leaf.Text);
    }

    private string RenderBlock(IReadOnlyList<string> keys, YamlLeaf leaf, int indent)
    {
        var builder = new StringBuilder();
        for (var i = 0; i < keys.Count; i++)
        {
            builder.Append(' ', indent + i * _indentStep).Append(Scalar(keys[i])).Append(':');
            if (i == keys.Count - 1) builder.Append(' ').Append(leaf.Text);
            builder.Append(_newLine);
        }
        return builder.ToString();
    }

    private static string RenderFlow(IReadOnlyList<string> keys, YamlLeaf leaf)
        => keys.Count == 1 ? $"{Scalar(keys[0])}: {leaf.Text}" : $"{Scalar(keys[0])}: {{ {RenderFlow(keys.Skip(1).ToArray(), leaf)} }}";

    /// <summary>
    /// A key or list item as a YAML scalar. Plain where that reads back as the same string in YAML 1.1 and 1.2
    /// (Go's yaml packages and YamlDotNet alike); double-quoted otherwise (<c>*</c> would start an alias,
    /// <c>true</c> or <c>10</c> would not be strings). The callers only pass name, pattern and tag characters.
    /// </summary>
    public static string Scalar(string value) => PlainSafe().IsMatch(value) && !NonString().IsMatch(value) ? value : $"\"{value}\"";

    private string Append(string body, string block)
        => body.Length == 0 || body.EndsWith('\n') ? body + block : body + _newLine + block;

    private string InsertAfterLine(string body, int index, string block)
    {
        var newline = body.IndexOf('\n', index);
        return newline < 0 ? Append(body, block) : body.Insert(newline + 1, block);
    }

    private string Splice(int start, int end, string replacement) => string.Concat(text.AsSpan(0, start), replacement, text.AsSpan(end));

    private int ColonAfter(SourceNode key)
    {
        var i = key.End;
        while (i < text.Length && text[i] is ' ' or '\t') i++;
        if (i >= text.Length || text[i] != ':') throw new InvalidOperationException($"No ':' after the key on line {key.Line}.");
        return i;
    }

    private int LineStart(int index) => index - ColumnIn(text, index);

    private int Column(int index) => ColumnIn(text, index);

    private int LineEnd(int index)
    {
        var newline = text.IndexOf('\n', index);
        if (newline < 0) return text.Length;
        return newline > 0 && text[newline - 1] == '\r' ? newline - 1 : newline;
    }

    private int LineEndInclusive(int index)
    {
        var newline = text.IndexOf('\n', index);
        return newline < 0 ? text.Length : newline + 1;
    }

    private static int? DetectIndentStep(string text, SourceNode node)
    {
        foreach (var (key, value) in node.Pairs)
        {
            if (value.Kind != SourceKind.Mapping || value.IsFlow) continue;
            var step = ColumnIn(text, value.Pairs[0].Key.Start) - ColumnIn(text, key.Start);
            if (step > 0) return step;
            if (DetectIndentStep(text, value) is { } nested) return nested;
        }
        return null;
    }

    private static int ColumnIn(string text, int index) => index == 0 ? 0 : index - text.LastIndexOf('\n', index - 1) - 1;

    [GeneratedRegex("^[A-Za-z0-9_][A-Za-z0-9._/*?-]*$", RegexOptions.CultureInvariant)]
    private static partial Regex PlainSafe();

    // Scalars YAML 1.1 or 1.2 would resolve to null, a boolean or a number.
    [GeneratedRegex("^(?:~|null|true|false|yes|no|on|off|y|n|[-+]?[0-9][0-9_]*(?:\\.[0-9_]*)?(?:e[-+]?[0-9]+)?|0x[0-9a-f_]+|0o?[0-7_]+|0b[01_]+|[-+]?\\.(?:inf|nan)|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\\.[0-9_]*)?)$", RegexOptions.CultureInvariant | RegexOptions.IgnoreCase)]
    private static partial Regex NonString();
}
