using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace S3lo.Core.Policy;

internal enum SourceKind
{
    Scalar,
    Mapping,
    Sequence,
    Alias,
}

/// <summary>
/// One node of the parsed file with its exact character span, so edits can splice the original text.
/// <see cref="End"/> is where the node's own text ends: after a scalar, after the closing bracket of a
/// flow collection, after the last child of a block collection (never past trailing comments).
/// </summary>
internal sealed class SourceNode
{
    public SourceKind Kind { get; init; }
    public bool IsFlow { get; init; }
    public ScalarStyle Style { get; init; }
    public string Value { get; init; } = "";
    public int Start { get; init; }
    public int End { get; set; }
    public int Line { get; init; }
    public List<(SourceNode Key, SourceNode Value)> Pairs { get; } = [];
    public List<SourceNode> Items { get; } = [];

    public bool IsNull => Kind == SourceKind.Scalar && Style is ScalarStyle.Plain or ScalarStyle.Any
        && Value is "" or "~" or "null" or "Null" or "NULL";

    public int IndexOf(string key) => Pairs.FindIndex(p => p.Key.Kind == SourceKind.Scalar && p.Key.Value == key);
}

internal static class YamlSource
{
    /// <summary>The root node of the single document in <paramref name="text"/>; null when there is none.</summary>
    public static SourceNode? Parse(string text)
    {
        var parser = new Parser(new StringReader(text));
        parser.Consume<StreamStart>();
        if (parser.Accept<StreamEnd>(out _)) return null;
        parser.Consume<DocumentStart>();
        var root = ReadNode(parser);
        parser.Consume<DocumentEnd>();
        if (parser.Accept<DocumentStart>(out var second))
            throw new YamlException(second.Start, second.End, "s3lo.yaml holds one YAML document, not several.");
        return root;
    }

    private static SourceNode ReadNode(IParser parser)
    {
        var current = parser.Current ?? throw new YamlException("Unexpected end of the YAML stream.");
        parser.MoveNext();
        switch (current)
        {
            case Scalar scalar:
                return new SourceNode
                {
                    Kind = SourceKind.Scalar, Style = scalar.Style, Value = scalar.Value,
                    Start = (int)scalar.Start.Index, End = (int)scalar.End.Index, Line = (int)scalar.Start.Line,
                };
            case AnchorAlias alias:
                return new SourceNode
                {
                    Kind = SourceKind.Alias, Value = alias.Value.Value,
                    Start = (int)alias.Start.Index, End = (int)alias.End.Index, Line = (int)alias.Start.Line,
                };
            case MappingStart mapping:
            {
                var node = new SourceNode
                {
                    Kind = SourceKind.Mapping, IsFlow = mapping.Style == MappingStyle.Flow,
                    Start = (int)mapping.Start.Index, Line = (int)mapping.Start.Line,
                };
                while (!parser.Accept<MappingEnd>(out _))
                    node.Pairs.Add((ReadNode(parser), ReadNode(parser)));
                var end = parser.Consume<MappingEnd>();
                node.End = node.IsFlow ? (int)end.Start.Index + 1 : node.Pairs.Count > 0 ? node.Pairs[^1].Value.End : node.Start;
                return node;
            }
            case SequenceStart sequence:
            {
                var node = new SourceNode
                {
                    Kind = SourceKind.Sequence, IsFlow = sequence.Style == SequenceStyle.Flow,
                    Start = (int)sequence.Start.Index, Line = (int)sequence.Start.Line,
                };
                while (!parser.Accept<SequenceEnd>(out _))
                    node.Items.Add(ReadNode(parser));
                var end = parser.Consume<SequenceEnd>();
                node.End = node.IsFlow ? (int)end.Start.Index + 1 : node.Items.Count > 0 ? node.Items[^1].End : node.Start;
                return node;
            }
            default:
                throw new YamlException(current.Start, current.End, $"Unexpected YAML event {current.GetType().Name}.");
        }
    }
}
