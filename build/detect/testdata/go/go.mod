module example.com/shop/api

go 1.22.5

toolchain go1.23.1
