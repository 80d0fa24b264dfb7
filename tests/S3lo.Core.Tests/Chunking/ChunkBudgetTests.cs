using S3lo.Core.Chunking;
using S3lo.Core.Oci;
using S3lo.Core.Storage;
using S3lo.Core.Storage.Local;
using S3lo.Core.Tests.TestSupport;

namespace S3lo.Core.Tests.Chunking;

/// <summary>
/// Memory of a chunked push is bounded by the budget its layers share, not by the size or number of layers: several
/// layers written at once into a store that is slow to take chunks never hold more chunk buffers than the budget allows.
/// </summary>
public sealed class ChunkBudgetTests : IDisposable
{
    private readonly TempDir _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Layers_written_at_once_share_a_bounded_number_of_chunk_buffers()
    {
        await using var local = new LocalObjectStore(LocalStoreProvider.Location(_dir.File("store")));
        // Each chunk is taken after a pause, so the layers are read faster than their chunks are stored.
        var slow = new PausingObjectStore(local);
        int now = 0, most = 0, chunkWrites = 0;
        slow.BeforePutBytes = async key =>
        {
            if (!key.StartsWith(StoreLayout.ChunksPrefix, StringComparison.Ordinal)) return;
            var count = Interlocked.Increment(ref now);
            lock (slow) most = Math.Max(most, count);
            Interlocked.Increment(ref chunkWrites);
            await Task.Delay(20);
            Interlocked.Decrement(ref now);
        };
        using var budget = new ChunkBudget(slots: 2, layers: 2);
        var images = Enumerable.Range(0, 4).Select(i => new TarLayerImage(seed: 10 + i, gzip: false)).ToList();

        var written = await Task.WhenAll(images.Select(image => Task.Run(async () =>
        {
            using var raw = new MemoryStream(image.RawLayer, writable: false);
            return await new ChunkedLayerWriter(slow, budget).WriteAsync(raw, Digest.Compute(image.RawLayer), "layer", _ => Task.CompletedTask, default);
        })));

        // Every layer stored, every chunk of it.
        var cuts = images.Sum(image => FastCdc.Cuts(image.RawLayer).Count());
        Assert.Equal(cuts, written.Sum(w => w!.Value.Recipe.Chunks.Count));
        Assert.Equal(cuts, chunkWrites);
        Assert.True(cuts > 4 * (budget.Slots + budget.Layers), "the layers must have more chunks than the budget has buffers");
        // Bounded: one window per layer being cut, a raw buffer and a frame per chunk in flight.
        Assert.InRange(most, 1, budget.Slots);
        Assert.InRange(budget.MaxInFlight, 1, budget.Slots);
        Assert.InRange(budget.RawBuffersAllocated, 1, budget.Layers + budget.Slots);
        Assert.InRange(budget.FrameBuffersAllocated, 1, budget.Slots);
    }
}
