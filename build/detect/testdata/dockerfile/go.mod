module example.com/dockerized

go 1.22
