module example.com/conflict

go 1.22
