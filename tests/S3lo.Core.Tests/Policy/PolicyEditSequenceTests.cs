using S3lo.Core.Policy;

namespace S3lo.Core.Tests.Policy;

/// <summary>Long seeded sequences of edits on differently written files: every result parses, and reads back what was set.</summary>
public class PolicyEditSequenceTests
{
    public static TheoryData<string> Files => new()
    {
        PolicyRoundTripTests.FormatExample,
        "",
        "# nothing yet\n",
        "default: {}\nimages: {}\n",
        "default: { immutable: true, lifecycle: { keep_last: 1 } }\nimages: { app: { immutable: false }, dev/*: {} }\nextra: [1, 2]\n",
        "images:\n    app:\n        lifecycle:\n            keep_tags:\n            - a\n            - b\n        other: x\ndefault:\n    owner: me\n",
        "default:\r\n  lifecycle:\r\n    keep_last: 3  # c\r\n# end\r\n",
        "chunked: true",
    };

    private static readonly PolicyScope[] Scopes = [PolicyScope.Store, PolicyScope.Image("app"), PolicyScope.Image("dev/*"), PolicyScope.Image("*/x?")];
    private static readonly PolicyKey[] Keys = Enum.GetValues<PolicyKey>();

    [Theory]
    [MemberData(nameof(Files))]
    public void EditsAlwaysReadBack(string yaml)
    {
        var random = new Random(yaml.Length);
        for (var run = 0; run < 20; run++)
        {
            var document = PolicyDocument.Parse(yaml);
            for (var step = 0; step < 30; step++)
            {
                var scope = Scopes[random.Next(Scopes.Length)];
                var key = Keys[random.Next(Keys.Length)];
                if (key == PolicyKey.Chunked && scope != PolicyScope.Store) continue;
                var before = document.ToYaml();
                var expectations = Snapshot(document);
                if (random.Next(3) == 0)
                {
                    var removed = document.Unset(scope, key);
                    Assert.Equal(removed, expectations.Remove((scope, key)) && before != document.ToYaml());
                }
                else
                {
                    var value = ValueFor(key, random);
                    document.Set(scope, key, value);
                    expectations[(scope, key)] = Normalize(value);
                }
                Assert.Equal(document.ToYaml(), PolicyDocument.Parse(document.ToYaml()).ToYaml());
                Assert.Equal(expectations.OrderBy(e => e.Key.ToString()), Snapshot(document).OrderBy(e => e.Key.ToString()));
            }
        }
    }

    private static object ValueFor(PolicyKey key, Random random) => key switch
    {
        PolicyKey.Immutable or PolicyKey.Chunked => random.Next(2) == 0,
        PolicyKey.KeepLast => random.Next(0, 20),
        PolicyKey.MaxAge => random.Next(2) == 0 ? TimeSpan.FromHours(random.Next(0, 200)) : $"{random.Next(1, 9)}h{random.Next(1, 59)}m",
        _ => Enumerable.Range(0, random.Next(0, 3)).Select(i => $"t{random.Next(9)}").ToArray(),
    };

    private static string Normalize(object value) => value switch
    {
        TimeSpan span => PolicyDuration.Format(span),
        string[] tags => string.Join(",", tags),
        _ => value.ToString()!,
    };

    private static Dictionary<(PolicyScope, PolicyKey), string> Snapshot(PolicyDocument document)
    {
        var values = new Dictionary<(PolicyScope, PolicyKey), string>();
        void Add(PolicyScope scope, ImagePolicy policy)
        {
            if (policy.Immutable is { } immutable) values[(scope, PolicyKey.Immutable)] = immutable.ToString();
            if (policy.KeepLast is { } keepLast) values[(scope, PolicyKey.KeepLast)] = keepLast.ToString();
            if (policy.MaxAgeText is { } maxAge) values[(scope, PolicyKey.MaxAge)] = maxAge;
            if (policy.KeepTags is { } keepTags) values[(scope, PolicyKey.KeepTags)] = string.Join(",", keepTags);
        }
        Add(PolicyScope.Store, document.Default);
        foreach (var (pattern, policy) in document.Images) Add(PolicyScope.Image(pattern), policy);
        if (document.Chunked is { } chunked) values[(PolicyScope.Store, PolicyKey.Chunked)] = chunked.ToString();
        return values;
    }
}
