# The test Azure Blob Storage (Azurite) and the store helpers that look at it behind S3lo's back: it starts on
# 127.0.0.1, keeps blobs with their tier, checks the account key, and leaves no process behind.
BeforeAll {
    Import-Module (Join-Path $PSScriptRoot 'TestHelpers.psm1') -Force
    Import-Module (Join-Path $PSScriptRoot 'StoreHelpers.psm1') -Force
    $script:Server = Start-TestAzureServer
    $script:ProcessId = [int](Get-Content -Raw (Join-Path $script:Server.Base 'azurite.pid'))
}

AfterAll {
    Stop-TestAzureServer $script:Server
}

Describe 'Test Azure server (Azurite)' {
    It 'runs the blob service on 127.0.0.1 with the account in the endpoint path' {
        Test-ProcessRunning $script:ProcessId | Should -BeTrue
        $script:Server.EndpointUrl | Should -Match '^http://127\.0\.0\.1:\d+/devstoreaccount1$'
    }

    It 'gives an az store whose objects the helpers write, list and read' {
        $store = New-TestStore -Kind az -Root $TestDrive -Server $script:Server
        $store.Uri | Should -Be "az://$($store.Root)/"
        $store.Params.Keys | Sort-Object | Should -Be @('EndpointUrl', 'StorageAccountKey', 'StorageAccountName')
        Set-TestStoreObject $store 'manifests/app/v1/manifest.json' ([Text.Encoding]::UTF8.GetBytes('{}'))
        Set-TestStoreObject $store 'blobs/sha256/ab' ([byte[]](1..200))

        Get-TestStoreKey $store | Should -Be @('blobs/sha256/ab', 'manifests/app/v1/manifest.json')
        Get-TestStoreKey $store -Prefix 'manifests/' | Should -Be @('manifests/app/v1/manifest.json')
        [Text.Encoding]::UTF8.GetString([byte[]](Get-TestStoreObject $store 'manifests/app/v1/manifest.json')) | Should -Be '{}'
        $properties = Get-TestAzureBlobProperty -Server $script:Server -Container $store.Root -Key 'blobs/sha256/ab'
        $properties.ContentLength | Should -Be 200
        $properties.AccessTier | Should -Be 'Hot'
    }

    It 'rejects a request signed with the wrong key' {
        New-TestAzureContainer -Server $script:Server -Name 'signed'
        $wrong = $script:Server.PSObject.Copy()
        $wrong.AccountKey = [Convert]::ToBase64String([byte[]](1..64))
        $client = Get-TestAzureContainerClient -Server $wrong -Container 'signed'
        $e = { $client.GetProperties($null, [Threading.CancellationToken]::None) } | Should -Throw -PassThru
        $e.Exception.InnerException.Status | Should -Be 403
    }

    It 'is gone after Stop-TestAzureServer' {
        Stop-TestAzureServer $script:Server
        Test-ProcessRunning $script:ProcessId | Should -BeFalse
        Test-Path -LiteralPath $script:Server.Base | Should -BeFalse
        $script:Server = $null
    }
}
