# Pushes and copies killed with SIGKILL at seeded random moments (local, S3 on RGW, Azure on Azurite): every tag left
# is whole, Remove-S3loStaleBlob removes and reports what the killed writes left, and the same push then succeeds.
# A push that fails or is stopped (Ctrl+C) removes its own temporary files.
BeforeDiscovery {
    $script:StoreKinds = @(@{ Kind = 'local' }, @{ Kind = 's3' }, @{ Kind = 'az' })
}

BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Suite = Initialize-TestSuite -Name kill -S3 -Azure
    $script:Work = $Suite.Work
    $script:Server = $Suite.Server
    # One 12 MiB layer of random bytes: above the 8 MiB part and block size, so S3 and Azure write it in parts that a
    # kill can leave unfinished when its source is read once (a copy from an S3 or Azure store); from a file it goes up in one request.
    $script:Layout = New-TestImage -Path (Join-Path $Work 'layout') -Layers 1 -LayerSize 12MB -Tag v1
    $script:Source = New-TestStore -Kind local -Root $Work
    $null = Push-S3loImage $Layout "$($Source.Uri)app:v1"
    # A source of each kind for the mid-write kill below: a copy from a store of the same kind, whose blobs are read
    # once, as S3 and Azure answer them (a file can be read again, so from one each layer goes up in one request).
    # Each holds a 64 MiB layer stored whole: a 12 MiB layer (or the chunks a chunked source copies as they are) was
    # written in a few milliseconds on a local store, and staged in two blocks on Azurite, too quickly for the watch below
    # to see under load.
    $bigLayout = New-TestImage -Path (Join-Path $Work 'layout-64m') -Layers 1 -LayerSize 64MB -Tag v1
    $script:Sources = @{}
    foreach ($kind in 'local', 's3', 'az') {
        $Sources[$kind] = New-TestStore -Kind $kind -Root $Work -Server $Server
        $p = $Sources[$kind].Params
        $null = Push-S3loImage $bigLayout "$($Sources[$kind].Uri)app:v1" -Chunked:$false @p
    }

    # Seven rounds, each killing a push or copy into a fresh store of every kind at once: 21 kills. The seed of each
    # round draws, per kind, the operation (push, chunked by default, push of whole layers or copy from a local store) and when it is killed.
    $script:RoundSeeds = @(101, 202, 303, 404, 505, 606, 707)

    function Get-ChildScript($Store, [string] $Operation) {
        $params = switch ($Store.Kind) {
            's3' { "-EndpointUrl '$($Server.EndpointUrl)' -Credential ([pscredential]::new('$($Server.AccessKey)', (ConvertTo-SecureString '$($Server.SecretKey)' -AsPlainText -Force)))" }
            'az' { "-StorageAccountName '$($Store.Params.StorageAccountName)' -StorageAccountKey '$($Store.Params.StorageAccountKey)' -EndpointUrl '$($Store.Params.EndpointUrl)'" }
            default { '' }
        }
        $step = switch ($Operation) {
            'push' { "Push-S3loImage '$Layout' `"$($Store.Uri)app:t`$(`$i % 2)`" $params" }
            'whole' { "Push-S3loImage '$Layout' `"$($Store.Uri)app:t`$(`$i % 2)`" -Chunked:`$false $params" }
            'copy' { "Copy-S3loImage '$($Source.Uri)app:v1' `"$($Store.Uri)copy:t`$(`$i % 2)`" $params" }
            'copy-same-kind' { "Copy-S3loImage '$($Sources[$Store.Kind].Uri)app:v1' `"$($Store.Uri)copy:t`$(`$i % 2)`" $params" }
        }
        # 'ready' once the module is loaded, then the work starts on a line from the test, so the kill's delay counts from
        # the start of the work; the loop (two tags of the same image, again and again, bounded in time) outlasts it.
        "`$ErrorActionPreference = 'Stop'; `$ProgressPreference = 'SilentlyContinue'; Import-Module '$env:S3LO_MODULE_PATH'; " +
        "[Console]::Out.WriteLine('ready'); [Console]::Out.Flush(); `$null = [Console]::In.ReadLine(); `$clock = [Diagnostics.Stopwatch]::StartNew(); for (`$i = 0; `$clock.Elapsed.TotalSeconds -lt 60; `$i++) { `$null = $step }"
    }

    function Start-Child([string] $Script) {
        $hostPath = (Get-Process -Id $PID).Path
        $info = [Diagnostics.ProcessStartInfo]::new($hostPath)
        # pwsh as a dotnet tool runs as 'dotnet pwsh.dll'; an installed pwsh runs as itself.
        if ([IO.Path]::GetFileNameWithoutExtension($hostPath) -eq 'dotnet') { $info.ArgumentList.Add((Join-Path $PSHOME 'pwsh.dll')) }
        foreach ($argument in '-NoLogo', '-NoProfile', '-NonInteractive', '-Command', $Script) { $info.ArgumentList.Add($argument) }
        $info.RedirectStandardInput = $true
        $info.RedirectStandardOutput = $true
        $info.RedirectStandardError = $true
        $info.UseShellExecute = $false
        [Diagnostics.Process]::Start($info)
    }

    # What unfinished writes a store holds, seen without S3lo: local temporary files (lock files hold no data and are
    # kept), S3 multipart uploads, Azure blobs with uncommitted blocks and nothing committed.
    function Get-Litter($Store) {
        switch ($Store.Kind) {
            'local' {
                @(Get-ChildItem -LiteralPath $Store.Root -Recurse -Force -File -Filter '.s3lo-tmp-*' | Where-Object Name -notlike '.s3lo-tmp-lock-*' |
                        ForEach-Object { [IO.Path]::GetRelativePath($Store.Root, $_.FullName).Replace('\', '/') } | Sort-Object)
            }
            's3' {
                $response = Invoke-TestS3Request -Server $Store.Server -Path "/$($Store.Root)?uploads="
                if ($response.StatusCode -ne 200) { throw "ListMultipartUploads $($Store.Root) answered $($response.StatusCode): $($response.Body)" }
                @([regex]::Matches($response.Body, '<Upload>.*?<Key>(.*?)</Key>', 'Singleline') | ForEach-Object { $_.Groups[1].Value } | Sort-Object)
            }
            'az' {
                $client = Get-TestAzureContainerClient -Server $Store.Server -Container $Store.Root
                $committed = @($client.GetBlobs() | ForEach-Object Name)
                @($client.GetBlobs([Azure.Storage.Blobs.Models.BlobTraits]::None, [Azure.Storage.Blobs.Models.BlobStates]::Uncommitted, $null, [Threading.CancellationToken]::None) |
                        ForEach-Object Name | Where-Object { $_ -notin $committed } | Sort-Object)
            }
        }
    }

    # Every tag's manifest and blobs read back through a save, which checks each against its digest; and every object
    # under a content-addressed name hashes to it.
    function Assert-StoreWhole($Store) {
        $p = $Store.Params
        foreach ($image in @(Get-S3loImage $Store.Uri @p | Sort-Object Digest -Unique)) {
            $out = Join-Path $Work "saved-$([guid]::NewGuid().ToString('N'))"
            $null = Save-S3loImage $image.Reference -Format OciLayout -Path $out @p
            Remove-Item -LiteralPath $out -Recurse -Force
        }
        foreach ($key in Get-TestStoreKey $Store -Prefix 'blobs/sha256/') {
            Get-TestSha256 (Get-TestStoreObject $Store $key) -Hex | Should -Be ($key -split '/')[-1] -Because "$key is named by its content"
        }
    }

    $script:Killed = @{}
    $script:Kills = 0
    foreach ($seed in $RoundSeeds) {
        $random = [Random]::new($seed)
        $children = foreach ($kind in 'local', 's3', 'az') {
            $store = New-TestStore -Kind $kind -Root $Work -Server $Server
            $operation = @('push', 'whole', 'copy')[$random.Next(3)]
            $delay = $random.Next(20, 1000)
            $script:Killed[$kind] += @([pscustomobject]@{ Store = $store; Operation = $operation; Seed = $seed; Delay = $delay })
            [pscustomobject]@{ Process = Start-Child (Get-ChildScript $store $operation); Delay = $delay; Started = $null }
        }
        foreach ($child in $children) {
            $line = $child.Process.StandardOutput.ReadLine()
            if ($line -ne 'ready') { throw "child did not start: $line $($child.Process.StandardError.ReadToEnd())" }
        }
        foreach ($child in $children) {
            $child.Process.StandardInput.WriteLine('go')
            $child.Started = [Diagnostics.Stopwatch]::StartNew()
        }
        foreach ($child in $children | Sort-Object Delay) {
            $wait = $child.Delay - $child.Started.ElapsedMilliseconds
            if ($wait -gt 0) { Start-Sleep -Milliseconds $wait }
            if ($child.Process.HasExited) { throw "child ended before its kill (exit $($child.Process.ExitCode)): $($child.Process.StandardOutput.ReadToEnd()) $($child.Process.StandardError.ReadToEnd())" }
            $child.Process.Kill()
            $child.Process.WaitForExit()
            $script:Kills++
        }
    }
    # Where a seeded moment lands is up to timing, so one more kill per kind is made to land mid-write: while the
    # store shows an unfinished write of a copy of whole layers from a store of the same kind (a temporary file, a
    # multipart upload, staged blocks; from a file, S3 and Azure get each layer in one request, which leaves nothing unfinished).
    # The child is paused (SIGSTOP) when one shows, and killed if it still shows, else resumed.
    # A child whose first push ends before it is caught is ended and tried again on a fresh store, at most five times.
    $pending = @('local', 's3', 'az')
    for ($attempt = 0; $pending -and $attempt -lt 5; $attempt++) {
        $children = foreach ($kind in $pending) {
            $store = New-TestStore -Kind $kind -Root $Work -Server $Server
            [pscustomobject]@{ Process = Start-Child (Get-ChildScript $store 'copy-same-kind'); Store = $store; Kind = $kind }
        }
        foreach ($child in $children) { $null = $child.Process.StandardOutput.ReadLine() }
        foreach ($child in $children) { $child.Process.StandardInput.WriteLine('go') }
        $running = @($children)
        while ($running) {
            foreach ($child in $running) {
                $p = $child.Store.Params
                if (-not (Get-Litter $child.Store)) {
                    if ($child.Process.HasExited -or (Get-S3loImage $child.Store.Uri @p)) { $child.Process.Kill(); $child.Process.WaitForExit(); $running = @($running | Where-Object { $_ -ne $child }) }
                    continue
                }
                $null = Invoke-TestProgram kill @('-STOP', "$($child.Process.Id)")
                if (Get-Litter $child.Store) {
                    $child.Process.Kill()
                    $child.Process.WaitForExit()
                    $script:Kills++
                    $script:Killed[$child.Kind] += @([pscustomobject]@{ Store = $child.Store; Operation = 'copy-same-kind'; Seed = 'mid-write'; Delay = $null })
                    $pending = @($pending | Where-Object { $_ -ne $child.Kind })
                    $running = @($running | Where-Object { $_ -ne $child })
                } else {
                    $null = Invoke-TestProgram kill @('-CONT', "$($child.Process.Id)")
                }
            }
        }
    }
    $script:LitterFound = @{}
}

AfterAll {
    Complete-TestSuite $script:Suite
}

Describe 'Pushes and copies killed with SIGKILL' {
    It 'killed 24 operations, 8 into each kind of store' {
        $Kills | Should -Be 24
        foreach ($kind in 'local', 's3', 'az') { $Killed[$kind].Count | Should -Be 8 }
    }
}

Describe 'A <Kind> store after its pushes and copies were killed' -ForEach $StoreKinds {
    It 'has every tag whole and every content-addressed object matching its name' {
        foreach ($entry in $Killed[$Kind]) { Assert-StoreWhole $entry.Store }
    }

    It 'keeps unfinished writes younger than the grace period' {
        foreach ($entry in $Killed[$Kind]) {
            $p = $entry.Store.Params
            $before = Get-Litter $entry.Store
            $LitterFound["$Kind/$($entry.Seed)"] = $before
            $swept = @(Remove-S3loStaleBlob $entry.Store.Uri -GracePeriod ([timespan]::FromHours(1)) -Confirm:$false @p)
            @($swept | Where-Object Kind -eq IncompleteWrite) | Should -BeNullOrEmpty
            Get-Litter $entry.Store | Should -Be $before
        }
    }

    It 'has unfinished writes left by the kill made mid-write' {
        $LitterFound["$Kind/mid-write"] | Should -Not -BeNullOrEmpty
    }

    It 'has every unfinished write removed and reported by Remove-S3loStaleBlob past the grace period' {
        foreach ($entry in $Killed[$Kind]) {
            $p = $entry.Store.Params
            $before = $LitterFound["$Kind/$($entry.Seed)"]
            $swept = @(Remove-S3loStaleBlob $entry.Store.Uri -GracePeriod 0 -Confirm:$false @p)
            @($swept | Where-Object Kind -eq IncompleteWrite | ForEach-Object Key | Sort-Object) | Should -Be $before -Because "seed $($entry.Seed), $($entry.Operation) killed after $($entry.Delay) ms"
            Get-Litter $entry.Store | Should -BeNullOrEmpty
            Assert-StoreWhole $entry.Store
        }
        Write-Host "kills into $Kind stores: $(($Killed[$Kind] | ForEach-Object { "seed $($_.Seed) $($_.Operation) at $($_.Delay) ms: $(@($LitterFound["$Kind/$($_.Seed)"]).Count) left" }) -join '; ')"
    }

    It 'takes the same push again' {
        foreach ($entry in $Killed[$Kind]) {
            $p = $entry.Store.Params
            $result = Push-S3loImage $Layout "$($entry.Store.Uri)app:after" @p
            (Get-S3loImage "$($entry.Store.Uri)app:after" @p).Digest | Should -Be $result.Digest
            Assert-StoreWhole $entry.Store
        }
    }
}

Describe 'A push that fails or is stopped' {
    It 'removes its temporary files when a blob does not match its digest' {
        $store = New-TestStore -Kind local -Root $Work
        $bad = New-TestCorruptLayout -Layout $Layout -Path (Join-Path $Work 'corrupt-layout')
        $corrupt, $layer = $bad.Path, $bad.Layer

        { Push-S3loImage $corrupt "$($store.Uri)app:v1" } | Should -Throw -ErrorId 'DigestMismatch,S3lo.PowerShell.Commands.PushS3loImageCommand'
        Get-Litter $store | Should -BeNullOrEmpty
        Get-TestStoreKey $store -Prefix 'blobs/' | Should -Not -Contain "blobs/sha256/$layer"
    }

    It 'removes its temporary files when stopped (Ctrl+C) in the middle of a write' {
        $store = New-TestStore -Kind local -Root $Work
        $shell = [powershell]::Create()
        $null = $shell.AddScript("Import-Module '$env:S3LO_MODULE_PATH'; Push-S3loImage '$Layout' '$($store.Uri)app:v1'")
        $running = $shell.BeginInvoke()
        $seen = $null
        $deadline = [DateTime]::UtcNow.AddSeconds(60)
        while (-not $seen -and -not $running.IsCompleted -and [DateTime]::UtcNow -lt $deadline) {
            $seen = Get-Litter $store | Select-Object -First 1
        }
        $seen | Should -Not -BeNullOrEmpty -Because 'the stop must land while an object is being written'
        $shell.Stop()
        $shell.Dispose()

        Get-Litter $store | Should -BeNullOrEmpty
        Get-S3loImage $store.Uri | Should -BeNullOrEmpty
    }
}
