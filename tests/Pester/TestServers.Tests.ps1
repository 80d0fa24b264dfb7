# The test S3 server the store tests rely on: it starts, speaks signed S3, honours the storage class
# S3lo uses, and leaves no process behind.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    $script:Server = Start-TestS3Server
    $script:ProcessIds = @(Get-TestServerProcessId $script:Server)
}

AfterAll {
    Stop-TestS3Server $script:Server
}

Describe 'Test S3 server (Ceph RGW)' {
    It 'runs mon, osd and radosgw on 127.0.0.1' {
        $script:ProcessIds.Count | Should -Be 3
        $script:ProcessIds | ForEach-Object { Test-ProcessRunning $_ | Should -BeTrue }
        $script:Server.EndpointUrl | Should -Match '^http://127\.0\.0\.1:\d+$'
    }

    It 'stores an object with storage class INTELLIGENT_TIERING and reports it on HEAD' {
        New-TestBucket -Server $script:Server -Name 'tiering'
        $file = Join-Path $TestDrive 'blob.bin'
        [IO.File]::WriteAllBytes($file, [byte[]](1..200))
        $put = Invoke-TestS3Request -Server $script:Server -Method PUT -Path '/tiering/blobs/sha256/ab' -InFile $file `
            -Header @{ 'x-amz-storage-class' = 'INTELLIGENT_TIERING' }
        $put.StatusCode | Should -Be 200

        $headers = Get-TestS3ObjectHeader -Server $script:Server -Bucket 'tiering' -Key 'blobs/sha256/ab'
        $headers['x-amz-storage-class'] | Should -Be 'INTELLIGENT_TIERING'
        $headers['Content-Length'] | Should -Be '200'
        Get-TestS3ObjectList -Server $script:Server -Bucket 'tiering' | Should -Be @('blobs/sha256/ab')
    }

    It 'rejects a request signed with the wrong secret' {
        $wrong = $script:Server.PSObject.Copy()
        $wrong.SecretKey = 'not-the-secret'
        (Invoke-TestS3Request -Server $wrong -Path '/').StatusCode | Should -Be 403
    }

    It 'is gone after Stop-TestS3Server' {
        Stop-TestS3Server $script:Server
        $script:ProcessIds | ForEach-Object { Test-ProcessRunning $_ | Should -BeFalse }
        Test-Path -LiteralPath $script:Server.Base | Should -BeFalse
        $script:Server = $null
    }
}
