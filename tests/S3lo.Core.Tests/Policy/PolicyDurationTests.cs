using S3lo.Core.Policy;

namespace S3lo.Core.Tests.Policy;

public class PolicyDurationTests
{
    [Theory]
    [InlineData("90d", 90 * 24 * 3600.0)]
    [InlineData("0d", 0.0)]
    [InlineData("168h", 168 * 3600.0)]
    [InlineData("30m", 1800.0)]
    [InlineData("1h30m", 5400.0)]
    [InlineData("45s", 45.0)]
    [InlineData("1.5h", 5400.0)]
    [InlineData(".5m", 30.0)]
    [InlineData("2h45m30.5s", 9930.5)]
    [InlineData("1500ms", 1.5)]
    [InlineData("+10s", 10.0)]
    [InlineData("0", 0.0)]
    [InlineData("250us", 0.00025)]
    [InlineData("250µs", 0.00025)]
    [InlineData("300ns", 0.0000003)]
    public void ParsesDaysAndGoDurations(string text, double seconds)
    {
        Assert.True(PolicyDuration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromTicks((long)Math.Round(seconds * TimeSpan.TicksPerSecond)), value);
    }

    [Theory]
    [InlineData("")]
    [InlineData(null)]
    [InlineData("90")]
    [InlineData("d")]
    [InlineData("1d12h")]
    [InlineData("-5m")]
    [InlineData("5 m")]
    [InlineData("5M")]
    [InlineData("1w")]
    [InlineData("1..5h")]
    [InlineData(".h")]
    [InlineData("99999999999d")]
    [InlineData("9999999999999h")]
    public void RefusesWhatS3loWouldNotRead(string? text)
        => Assert.False(PolicyDuration.TryParse(text, out _));

    [Theory]
    [InlineData(90 * 24 * 60, "90d")]
    [InlineData(36 * 60, "36h")]
    [InlineData(90, "90m")]
    [InlineData(24 * 60, "1d")]
    [InlineData(0, "0d")]
    public void FormatsWholeDaysAsDaysAndTheRestInOneGoUnit(int minutes, string text)
    {
        Assert.Equal(text, PolicyDuration.Format(TimeSpan.FromMinutes(minutes)));
        Assert.True(PolicyDuration.TryParse(text, out var back));
        Assert.Equal(TimeSpan.FromMinutes(minutes), back);
    }

    [Theory]
    [InlineData(45 * TimeSpan.TicksPerSecond, "45s")]
    [InlineData(1500 * TimeSpan.TicksPerMillisecond, "1500ms")]
    [InlineData(2500L, "250us")]
    [InlineData(3L, "300ns")]
    public void SubMinuteValuesRoundTrip(long ticks, string text)
    {
        Assert.Equal(text, PolicyDuration.Format(TimeSpan.FromTicks(ticks)));
        Assert.True(PolicyDuration.TryParse(text, out var back));
        Assert.Equal(TimeSpan.FromTicks(ticks), back);
    }

    [Fact]
    public void NegativeDurationsCannotBeFormatted()
        => Assert.Throws<ArgumentOutOfRangeException>(() => PolicyDuration.Format(TimeSpan.FromSeconds(-1)));
}
