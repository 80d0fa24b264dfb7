using S3lo.Core.Server;

namespace S3lo.Core.Tests.Server;

public sealed class TtlCacheTests
{
    [Fact]
    public async Task Concurrent_requests_for_one_key_share_one_load_and_a_failed_load_is_not_kept()
    {
        var cache = new TtlCache<string, int>(TimeSpan.FromHours(1));
        var loads = 0;
        var gate = new TaskCompletionSource();
        async Task<int> Load(string _) { Interlocked.Increment(ref loads); await gate.Task; return 42; }
        var waiting = Enumerable.Range(0, 8).Select(_ => cache.GetAsync("k", Load, default)).ToList();
        gate.SetResult();
        Assert.All(await Task.WhenAll(waiting), v => Assert.Equal(42, v));
        Assert.Equal(1, loads);

        await Assert.ThrowsAsync<InvalidOperationException>(() => cache.GetAsync("bad", _ => Task.FromException<int>(new InvalidOperationException()), default));
        Assert.Equal(7, await cache.GetAsync("bad", _ => Task.FromResult(7), default));
    }

    [Fact]
    public async Task Fresh_values_beyond_the_limit_evict_the_oldest_loaded()
    {
        var cache = new TtlCache<int, int>(TimeSpan.FromHours(1), maxEntries: 100);
        for (var i = 0; i < 1000; i++) await cache.GetAsync(i, k => Task.FromResult(k), default);
        Assert.InRange(cache.Count, 1, 100);

        // The newest is still kept, the oldest is loaded again.
        var reloaded = new List<int>();
        await cache.GetAsync(999, k => { reloaded.Add(k); return Task.FromResult(k); }, default);
        await cache.GetAsync(0, k => { reloaded.Add(k); return Task.FromResult(k); }, default);
        Assert.Equal([0], reloaded);
    }
}
